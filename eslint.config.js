import js from "@eslint/js";
import tseslint from "typescript-eslint";
import reactHooks from "eslint-plugin-react-hooks";
import globals from "globals";

const NO_ROUTE_IMPORTS = {
  group: ["~/routes/*", "../routes/*"],
  message: "Never import from a route module.",
};

/**
 * Where `@remix-run/*` may be imported: the HTTP edge. Everything else under app/ is domain code,
 * which works on plain values and a `Db` (it never sees a Request and never builds a Response),
 * so it runs the same from a route, a background job, the CLI and a test. See docs/architecture.md.
 *
 * - routes/, root.tsx, entry.*: Remix's own modules.
 * - server/: the express server that hosts the Remix handler.
 * - http/: request helpers shared by routes (client IP, page headers).
 * - *.tsx: React components (app/ui, admin/ui, reports/ui, i18n/react.tsx, ...), which use
 *   Remix's Form, Link and hooks.
 * - The few edge helpers that live next to their feature because only its routes use them:
 *   admin/auth.server.ts (requireUser/requireRole redirect to the login page),
 *   admin/session.server.ts (the session cookie), admin/forms.server.ts (form error answers),
 *   api/route.server.ts (the sender API's loader/action wrapper), imports/upload.server.ts
 *   (the streamed multipart upload) and recipient/page.server.ts (recipient page answers).
 */
const REMIX_ALLOWED = [
  "app/routes/**",
  "app/root.tsx",
  "app/entry.client.tsx",
  "app/entry.server.tsx",
  "app/server/**",
  "app/http/**",
  "app/**/*.tsx",
  "app/admin/auth.server.ts",
  "app/admin/session.server.ts",
  "app/admin/forms.server.ts",
  "app/api/route.server.ts",
  "app/imports/upload.server.ts",
  "app/recipient/page.server.ts",
];

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
      "no-restricted-imports": ["error", { patterns: [NO_ROUTE_IMPORTS] }],
    },
  },
  {
    // Type-aware rules, on TypeScript files only (the type service is the slow part of a lint).
    files: ["**/*.ts", "**/*.tsx"],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A promise nobody awaits loses its errors (an unhandled rejection ends the process) and
      // its ordering. Await it, or mark deliberate fire-and-forget with `void` and say why.
      "@typescript-eslint/no-floating-promises": "error",
    },
  },
  {
    // Domain code never imports Remix (see REMIX_ALLOWED above).
    files: ["app/**/*.ts", "app/**/*.tsx"],
    ignores: REMIX_ALLOWED,
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            NO_ROUTE_IMPORTS,
            {
              group: ["@remix-run/*"],
              message:
                "Domain code does not import Remix: take plain values and return plain results; the route turns them into a Response (docs/architecture.md).",
            },
          ],
        },
      ],
    },
  },
  {
    // Routes parse, authorize, call one domain function and render: no SQL in them.
    files: ["app/routes/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            NO_ROUTE_IMPORTS,
            { group: ["kysely", "kysely/*"], message: "SQL lives in app/<feature>/*.server.ts." },
          ],
        },
      ],
      "no-restricted-syntax": [
        "error",
        {
          selector:
            "CallExpression[callee.property.name=/^(selectFrom|insertInto|updateTable|deleteFrom|mergeInto|replaceInto|transaction)$/]",
          message:
            "Routes do not query the database: call a domain function in app/<feature>/*.server.ts (docs/architecture.md).",
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
