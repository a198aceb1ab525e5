// The approver's inbox: sign in with an API key, list open approvals, decide them.
// Plain ES modules, no framework, no build step; this entry wires the page together:
//   session.js          sign-in and sign-out; the key kept in this tab's sessionStorage
//   inbox.js            the open approvals, refreshed every few seconds, and the decided ones
//   approval_card.js    one approval and its decision (reject_form.js, edit_form.js,
//                       argument_field.js; approval_context.js, approval_status.js)
//   api.js              the /v1 calls with the approver's key; ApiError
//   dom.js, time.js     building elements from text (never HTML); times in words

import { Inbox } from "./inbox.js";
import { Session } from "./session.js";

const inbox = new Inbox({
  onKeyRejected: (detail) => session.signOut(`Signed out: ${detail}`),
});
const session = new Session({
  onSignedIn: (byForm) => inbox.open({ focusHeading: byForm }),
  onSignedOut: () => inbox.close(),
});

inbox.start();
session.start();
