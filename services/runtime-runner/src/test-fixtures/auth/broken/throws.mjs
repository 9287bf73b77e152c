// An auth module that fails while it loads.
throw new Error("Cannot reach the key server");
