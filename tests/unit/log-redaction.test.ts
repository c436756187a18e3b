import { describe, expect, it } from "vitest";
import { redactPath } from "~/server/logger.server";

describe("request log paths", () => {
  it("never contain a token, a short code, an external id, an address or a query", () => {
    expect(redactPath("/p/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig?x=1")).toBe("/p/:token");
    expect(redactPath("/u/abc.def.ghi")).toBe("/u/:token");
    expect(redactPath("/c/abc")).toBe("/c/:token");
    expect(redactPath("/s/Ab3dEf9hJk")).toBe("/s/:token");
    expect(redactPath("/api/v1/contacts/jane%40example.com/preferences")).toBe(
      "/api/v1/contacts/:externalId/preferences",
    );
    expect(redactPath("/manage?email=jane@example.com")).toBe("/manage");
    expect(redactPath("/admin/search/jane@example.com")).toBe("/admin/search/:redacted");
    expect(redactPath("/admin/search/+48601234567")).toBe("/admin/search/:redacted");
    expect(redactPath("/healthz")).toBe("/healthz");
  });
});
