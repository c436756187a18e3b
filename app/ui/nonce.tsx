import { createContext, useContext } from "react";

/** The per-request CSP nonce, for inline scripts and styles that Remix and the layout render. */
const NonceContext = createContext<string>("");
export const NonceProvider = NonceContext.Provider;
export const useNonce = () => useContext(NonceContext);
