import type { SerializeFrom } from "@remix-run/node";
import { useActionData, useNavigation } from "@remix-run/react";
import { useEffect, useRef, type ReactNode } from "react";

/**
 * The outcome of a form post on a recipient page (saved, unsubscribed, sent, an error), made
 * impossible to miss (issue 15.8): with JavaScript, Remix renders it in place without a page load,
 * often at the top of a page scrolled far down, so the message takes the keyboard focus when it
 * appears (which scrolls it into view and makes screen readers read it) and is a live region
 * (`role="status"` / `role="alert"` with an explicit `aria-live`) for assistive technology that
 * follows live regions rather than focus. Without JavaScript the browser loads the answer page at
 * its top, where the message is.
 *
 * `focusKey` changes for every new outcome (e.g. the action data object), so a second save that
 * shows the same words still moves the focus back to it.
 */
export function Announcement({
  kind = "status",
  focusKey,
  className,
  children,
  testId,
}: {
  kind?: "status" | "alert";
  focusKey: unknown;
  className?: string;
  children: ReactNode;
  testId?: string;
}) {
  const ref = useFocusOnChange<HTMLDivElement>(focusKey);
  return (
    <div
      ref={ref}
      role={kind}
      aria-live={kind === "alert" ? "assertive" : "polite"}
      aria-atomic="true"
      tabIndex={-1}
      data-testid={testId}
      className={`scroll-mt-4 focus:outline-none focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-[rgb(var(--heed-accent-ink))] ${className ?? ""}`}
    >
      {children}
    </div>
  );
}

/**
 * Focuses the element when `key` changes (and on mount when `key` is set): for the first heading
 * of a page that a form post replaced entirely. The element needs `tabIndex={-1}`.
 */
export function useFocusOnChange<T extends HTMLElement>(key: unknown) {
  const ref = useRef<T>(null);
  useEffect(() => {
    if (!key || !ref.current) return;
    ref.current.focus({ preventScroll: true });
    ref.current.scrollIntoView({ block: "start" });
  }, [key]);
  return ref;
}

/**
 * A card that is an `Announcement` right after the post that produced it, and a plain block when
 * the same state is simply opened later (a GET of an already-done link announces nothing).
 */
export function AnnouncedIf({
  announce,
  focusKey,
  className,
  testId,
  children,
}: {
  announce: boolean;
  focusKey: unknown;
  className: string;
  testId?: string;
  children: ReactNode;
}) {
  if (!announce) return <div className={className}>{children}</div>;
  return (
    <Announcement focusKey={focusKey} className={className} testId={testId}>
      {children}
    </Announcement>
  );
}

/**
 * The action's answer once the page has settled. With JavaScript, Remix hands the action data to
 * the page while it is still reloading the loader data (navigation state "loading"): a message
 * saying "SMS: unsubscribed" would show, and take the focus, above a form still saying
 * "Subscribed". Shown only when the navigation is idle, the outcome and the page agree; a new
 * submission hides the previous outcome until its own is in.
 */
export function useSettledActionData<T>(): SerializeFrom<T> | undefined {
  const data = useActionData<T>();
  const navigation = useNavigation();
  return navigation.state === "idle" ? data : undefined;
}
