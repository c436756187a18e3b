import js from "@eslint/js";
import tseslint from "typescript-eslint";
import reactHooks from "eslint-plugin-react-hooks";
import globals from "globals";

export default tseslint.config(
  {
    ignores: [
      "build/**",
      "public/build/**",
      "node_modules/**",
      "data/**",
      ".cache/**",
      "test-results/**",
      "playwright-report/**",
      "tests/.tmp/**",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node, ...globals.browser } },
    plugins: { "react-hooks": reactHooks },
    rules: {
      "react-hooks/rules-of-hooks": "error",
      "react-hooks/exhaustive-deps": "warn",
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_" },
      ],
      // Routes must not import each other; domain modules must not import routes.
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["~/routes/*", "../routes/*"], message: "Never import from a route module." },
          ],
        },
      ],
    },
  },
  {
    // Tests may call a route's loader/action directly.
    files: ["tests/**/*.ts"],
    rules: { "no-restricted-imports": "off" },
  },
  {
    files: ["migrations/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [{ group: ["~/*", "../app/*"], message: "Migrations never import app code." }],
        },
      ],
    },
  },
);
