import type { Config } from "tailwindcss";

export default {
  content: ["./app/**/*.{ts,tsx}"],
  theme: {
    extend: {
      colors: {
        // The operator's accent colour is injected as a CSS variable by the root layout.
        accent: "rgb(var(--heed-accent) / <alpha-value>)",
      },
    },
  },
  plugins: [],
} satisfies Config;
