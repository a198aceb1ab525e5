// The /v1 REST API as the page calls it: the approver's key as a bearer token, JSON in and
// out, and any failure (problem+json, no answer) as an ApiError.

/** A failed call: `status` is 0 when the gateway did not answer; `detail` is for people. */
export class ApiError extends Error {
  constructor(status, problem) {
    const detail = problem.detail || problem.title || `the gateway answered ${status}`;
    super(detail);
    this.status = status;
    this.detail = detail;
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
    this.problem = problem;
  }
}

let signedInKey = null;

/** The key the calls carry by default; null when signed out. */
export function currentKey() {
  return signedInKey;
}

export function useKey(key) {
  signedInKey = key;
}

export async function api(path, { method = "GET", body, key = signedInKey } = {}) {
  const headers = { Accept: "application/json", Authorization: `Bearer ${key}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch {
    throw new ApiError(0, { detail: "the gateway did not answer; check the connection and retry" });
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const problem = data && typeof data === "object" ? data : { title: response.statusText };
    throw new ApiError(response.status, problem);
  }
  return data;
}

/** The URL of one approval, or of one of its sub-resources ("decision"). */
export function approvalUrl(id, ...rest) {
  return [`/v1/approvals/${encodeURIComponent(id)}`, ...rest].join("/");
}
