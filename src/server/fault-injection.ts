// Test-only: lets a test prove what happens when an error escapes every handler (the last
// resort in last-resort.ts), which correct code never lets happen on its own. Off unless the
// environment has FREEHOLD_TEST_FAULTS=1, which no config or CLI option sets; then a MAIL FROM
// whose local part is one of the triggers below schedules the fault inside that SMTP session's
// context, exactly as a bug in a socket callback would:
//   fh-test-throw   an exception thrown from a timer callback (uncaughtException)
//   fh-test-reject  a promise rejected with nobody awaiting it (unhandledRejection)
// The session itself goes on normally (250 Sender OK) until the process stops.
import type { SmtpHandler } from "../smtp/types.ts";

export const FAULT_ENV = "FREEHOLD_TEST_FAULTS";

export function faultInjectionEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[FAULT_ENV] === "1";
}

/** The handler with the triggers above added to MAIL FROM; every other call goes straight through. */
export function withInjectedFaults(h: SmtpHandler): SmtpHandler {
  return {
    connect: h.connect?.bind(h),
    helo: h.helo?.bind(h),
    mailFrom: (session, from, params) => {
      const trigger = from?.localPart.toLowerCase();
      if (trigger === "fh-test-throw") {
        setTimeout(() => {
          throw new Error(`injected fault (${FAULT_ENV}): thrown in a timer callback`);
        }, 0);
      } else if (trigger === "fh-test-reject") {
        void Promise.reject(new Error(`injected fault (${FAULT_ENV}): unhandled rejection`));
      }
      return h.mailFrom(session, from, params);
    },
    rcptTo: h.rcptTo.bind(h),
    data: h.data.bind(h),
    reset: h.reset?.bind(h),
    close: h.close?.bind(h),
  };
}
