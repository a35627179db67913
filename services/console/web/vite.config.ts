import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The build goes into the Python package, which serves it (and ships it in its wheel).
export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "../src/parley_console/static",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    // LiveKit's client (about 580 kB) is a chunk of its own that only /talk loads.
    chunkSizeWarningLimit: 700,
  },
});
