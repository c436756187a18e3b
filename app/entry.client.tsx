import { RemixBrowser } from "@remix-run/react";
import { startTransition, StrictMode } from "react";
import { hydrateRoot } from "react-dom/client";
import { NonceProvider } from "~/ui/nonce";

// The page's CSP nonce, read back from the scripts the server rendered (browsers hide the
// attribute but keep the property), so that a nonce'd <style> React inserts after a client-side
// navigation (the accent colour, app/root.tsx) is allowed by the Content-Security-Policy.
const nonce = document.querySelector<HTMLScriptElement>("script[nonce]")?.nonce ?? "";

startTransition(() => {
  hydrateRoot(
    document,
    <StrictMode>
      <NonceProvider value={nonce}>
        <RemixBrowser />
      </NonceProvider>
    </StrictMode>,
  );
});
