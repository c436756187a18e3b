/**
 * A campaign send with Heed, step by step: register the campaign, ask which recipients may get
 * it, get each one's unsubscribe links and headers in one batch, build the messages, and report
 * how many went out. Your own email sending is left out: the messages are printed as JSON.
 *
 *   HEED_URL=https://prefs.example.com HEED_API_KEY=heed_… npx tsx clients/typescript/example.ts
 *
 * The API key needs the scopes contacts, check and links.
 */
import { createHeedClient, type HeedError } from "./client";

const heed = createHeedClient({
  baseUrl: process.env.HEED_URL ?? "http://localhost:3000",
  apiKey: process.env.HEED_API_KEY ?? "",
});

/** Your recipients: your own ids and their addresses. */
const recipients = [
  { externalId: "example-1001", email: "ada@example.com", name: "Ada" },
  { externalId: "example-1002", email: "grace@example.com", name: "Grace" },
  { externalId: "example-1003", email: "alan@example.com", name: "Alan" },
];
const campaign = { key: process.env.CAMPAIGN_KEY ?? "spring-sale-2026", name: "Spring sale" };

function fail(step: string, error: HeedError): never {
  throw new Error(`${step}: ${error.error.code}: ${error.error.message}`);
}

async function main() {
  // 0. Heed knows your contacts (usually kept in sync as they sign up or change their address).
  for (const r of recipients) {
    const { error } = await heed.PUT("/api/v1/contacts/{externalId}", {
      params: { path: { externalId: r.externalId } },
      body: { email: r.email },
    });
    if (error) fail(`contact ${r.externalId}`, error);
  }

  // 1. Register the campaign, so that unsubscribes are attributed to it.
  const registered = await heed.POST("/api/v1/campaigns", {
    body: { key: campaign.key, name: campaign.name, channel: "email", sentCount: 0 },
  });
  if (registered.error) fail("campaign", registered.error);

  // 2. May I send? One call for up to 10,000 recipients; answers in request order.
  const check = await heed.POST("/api/v1/check", {
    body: { channel: "email", category: "marketing", recipients: recipients.map((r) => r.email) },
  });
  if (check.error) fail("check", check.error);
  const allowed = recipients.filter((_, i) => check.data.results[i]!.allowed);
  const skipped = recipients
    .map((r, i) => ({ externalId: r.externalId, reason: check.data.results[i]!.reason }))
    .filter((_, i) => !check.data.results[i]!.allowed);

  // 3. Links and headers for everyone allowed, in one batch (up to 10,000).
  const links = await heed.POST("/api/v1/links/batch", {
    body: {
      channel: "email",
      campaign: campaign.key,
      externalIds: allowed.map((r) => r.externalId),
    },
  });
  if (links.error) fail("links", links.error);

  // 4. Each message gets the List-Unsubscribe and List-Unsubscribe-Post headers (RFC 8058
  //    one-click: mailbox providers show an "Unsubscribe" button) and the links in its footer.
  const messages = links.data.results.flatMap((l) => {
    if ("error" in l) return [];
    const r = allowed.find((x) => x.externalId === l.externalId)!;
    return [
      {
        to: r.email,
        subject: `${r.name}, our spring sale starts today`,
        headers: {
          "List-Unsubscribe": l.headers!["List-Unsubscribe"],
          "List-Unsubscribe-Post": l.headers!["List-Unsubscribe-Post"],
        },
        footer: `Unsubscribe: ${l.unsubscribeUrl} · Your preferences: ${l.preferencesUrl}`,
      },
    ];
  });

  // 5. … send them with your own email service, then report the count for unsubscribe rates.
  const sent = await heed.POST("/api/v1/campaigns", {
    body: { ...campaign, channel: "email", sentCount: messages.length },
  });
  if (sent.error) fail("campaign", sent.error);

  console.log(JSON.stringify({ campaign: campaign.key, messages, skipped }, null, 2));
}

await main();
