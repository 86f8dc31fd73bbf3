// A minimal GitHub REST client for the workflow scripts (Node.js 20, no dependencies).
// Owns: the token header, JSON bodies, errors that never carry the token, pagination that never
// follows a link off the API's own origin (so the token cannot be sent elsewhere), and how a
// script's failure becomes an ::error:: annotation.

const MAX_PAGES = 50;

export class GitHubError extends Error {
  constructor(message, status = 0) {
    super(message);
    this.status = status;
  }
}

// Runs a script's main(); a failure is one ::error:: line (escaped as workflow command data must
// be) and exit code 1. Messages are the scripts' own: numbers and fixed text, never input text.
export function runScript(title, main) {
  main(process.env).catch((error) => {
    const message = String(error.message)
      .replace(/%/g, "%25")
      .replace(/\r/g, "%0D")
      .replace(/\n/g, "%0A");
    console.log(`::error::${title}: ${message}`);
    process.exitCode = 1;
  });
}

export function client({ apiUrl, token }) {
  const base = new URL(apiUrl.endsWith("/") ? apiUrl : `${apiUrl}/`);
  const headers = {
    Accept: "application/vnd.github+json",
    Authorization: `Bearer ${token}`,
    "User-Agent": "lfr-workflow-script",
    "X-GitHub-Api-Version": "2022-11-28",
  };

  async function send(method, url, body) {
    const response = await fetch(url, {
      method,
      headers: body === undefined ? headers : { ...headers, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      redirect: "error",
    });
    if (!response.ok) {
      throw new GitHubError(`${method} ${url.pathname} answered HTTP ${response.status}`, response.status);
    }
    return response;
  }

  // path: "repos/o/r/...", query: plain object; both go through URL encoding.
  function url(path, query = {}) {
    const u = new URL(path, base);
    for (const [k, v] of Object.entries(query)) u.searchParams.set(k, String(v));
    return u;
  }

  function nextLink(response) {
    const link = response.headers.get("link") ?? "";
    const match = /<([^>]+)>;\s*rel="next"/.exec(link);
    if (!match) return null;
    const next = new URL(match[1]);
    if (next.origin !== base.origin) throw new GitHubError("pagination left the API origin");
    return next;
  }

  return {
    async get(path, query) {
      return (await send("GET", url(path, query))).json();
    },
    // Every item of a list endpoint, following rel="next" links.
    async list(path, query = {}) {
      const items = [];
      let next = url(path, { per_page: 100, ...query });
      for (let page = 0; next; page += 1) {
        if (page === MAX_PAGES) throw new GitHubError(`more than ${MAX_PAGES} pages`);
        const response = await send("GET", next);
        const data = await response.json();
        if (!Array.isArray(data)) throw new GitHubError(`${next.pathname} did not answer a list`);
        items.push(...data);
        next = nextLink(response);
      }
      return items;
    },
    async post(path, body) {
      return (await send("POST", url(path), body)).json();
    },
    async patch(path, body) {
      return (await send("PATCH", url(path), body)).json();
    },
  };
}
