// unzipper ships no types; app/imports/xlsx-bound.server.ts types the one function it uses.
declare module "unzipper" {
  const unzipper: unknown;
  export default unzipper;
}
