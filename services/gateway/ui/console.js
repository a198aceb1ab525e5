// The console: tasks, one task's live timeline, usage and the worker pools, all read from the
// public /v1 API with the signed-in key. Plain ES modules, no build step; this entry signs in
// (session.js), asks the API what the key may do (GET /v1/keys/self) and routes on the URL's
// hash (#/tasks, #/tasks/<id>, #/usage, #/pools) to one view at a time:
//   task_list.js   the tasks, filtered, a page at a time
//   task_view.js   one task: figures, timeline (timeline.js, event_stream.js), step detail
//                  (step_detail.js), transcript, cancel
//   usage_view.js  cost and tokens per day, agent and model (charts.js)
//   pools_view.js  each pool over the last hour, and its replicas

import { api, ApiError } from "./api.js";
import { $ } from "./dom.js";
import { PoolsView } from "./pools_view.js";
import { Session } from "./session.js";
import { TaskList } from "./task_list.js";
import { TaskView } from "./task_view.js";
import { UsageView } from "./usage_view.js";

const identity = { can: {} };
const views = {
  tasks: new TaskList(),
  task: new TaskView(identity),
  usage: new UsageView(),
  pools: new PoolsView(),
};
let signedIn = false;

async function onSignedIn() {
  try {
    Object.assign(identity, await api("/v1/keys/self"));
  } catch (exc) {
    const detail = exc instanceof ApiError ? exc.detail : String(exc);
    session.signOut(`Signed out: ${detail}`);
    return;
  }
  signedIn = true;
  $("whoami").textContent = `${identity.name} (${identity.role})`;
  $("nav").hidden = false;
  $("nav-pools").hidden = !identity.can.watch_pools;
  route();
}

function onSignedOut() {
  signedIn = false;
  for (const view of Object.values(views)) view.hide();
  $("nav").hidden = true;
}

/** Show the view the hash names; hide the others. */
function route() {
  if (!signedIn) return;
  const [path, query = ""] = location.hash.replace(/^#\/?/, "").split("?");
  const parts = path.split("/").filter(Boolean);
  let name = parts[0] || "tasks";
  if (name === "tasks" && parts[1]) name = "task";
  if (!(name in views) || (name === "pools" && !identity.can.watch_pools)) {
    location.hash = "#/tasks";
    return;
  }
  for (const [other, view] of Object.entries(views)) if (other !== name) view.hide();
  for (const link of document.querySelectorAll(".nav a")) {
    const current = link.getAttribute("href") === `#/${name === "task" ? "tasks" : name}`;
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  views[name].show(name === "task" ? decodeURIComponent(parts[1]) : new URLSearchParams(query));
}

const session = new Session({ onSignedIn, onSignedOut });
window.addEventListener("hashchange", route);
session.start();
