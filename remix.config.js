// Everything generated lives under one folder (HEED_BUILD_DIR, default build/): the server bundle
// at build/index.js and the browser assets at build/public/build, served under /build/.
const buildDir = process.env.HEED_BUILD_DIR || "build";

/** @type {import('@remix-run/dev').AppConfig} */
export default {
  ignoredRouteFiles: ["**/.*", "**/*.test.{ts,tsx}"],
  // The custom server (app/server/main.ts) is compiled together with the app into build/index.js,
  // so the server and the routes share one module graph: one database handle, one PGlite instance.
  server: "./app/server/main.ts",
  serverBuildPath: `${buildDir}/index.js`,
  assetsBuildDirectory: `${buildDir}/public/build`,
  cacheDirectory: `${buildDir}/.cache`,
  publicPath: "/build/",
  serverModuleFormat: "esm",
  serverPlatform: "node",
  tailwind: true,
  postcss: true,
  watchPaths: ["./migrations/**/*.ts"],
  future: {
    v3_fetcherPersist: true,
    v3_relativeSplatPath: true,
    v3_throwAbortReason: true,
    v3_lazyRouteDiscovery: true,
  },
};
