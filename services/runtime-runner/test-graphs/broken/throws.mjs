// A module that fails while it is being imported.
throw new Error("cannot reach the model provider");
