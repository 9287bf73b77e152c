import "./ui.css";

const WeatherComponent = (props: { city: string }) => {
  return <div className="weather">Weather for {props.city}</div>;
};

export default {
  "weather-component": WeatherComponent,
};
