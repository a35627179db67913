import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter } from "./router";
import { App } from "./App";
import { prefetch } from "./api";
import { dataPathFor } from "./data";
import "./styles.css";

const first = dataPathFor(location.pathname, location.search);
if (first) prefetch(first);
prefetch("/api/session");

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <BrowserRouter>
      <App />
    </BrowserRouter>
  </StrictMode>,
);
