// Posts the plan of a finished "lfr plan" run as ONE pull request comment (plan-comment.yml).
//
// Everything in the plan artifact was written by the pull request's own code: a fork's pull
// request runs the fork's plan.yml. So this script trusts only the workflow_run event
// (GITHUB_EVENT_PATH) and the GitHub API:
//   - the pull request is bound to the run: its head repository and head SHA must equal the
//     run's; the artifact's pr-number may only choose among those PRs, never name another one;
//   - only a comment written by this job's bot that starts with the marker is edited;
//   - a fork run's markdown is never shown as the plan of record: this script writes the heading
//     (untrusted, from a fork) and puts the fork's text in a fenced code block no line of it can
//     close, so no mention, link, image, HTML or heading in it renders.
//
// Inputs (environment): GITHUB_EVENT_PATH, GITHUB_REPOSITORY, GITHUB_API_URL, GITHUB_SERVER_URL
// (set by the runner), GITHUB_TOKEN, PLAN_DIR (where the artifact was downloaded; may be empty).
// Exit 0: commented, or no open pull request matches the run (a newer push made it stale).
// Exit 1: the artifact names a pull request the run is not bound to, or an API error.

import { openSync, readSync, closeSync } from "node:fs";
import { join } from "node:path";
import { client, runScript } from "./github-api.mjs";

const MARKER = "<!-- lfr-plan -->";
const BOT_LOGIN = "github-actions[bot]";
const BODY_LIMIT = 65536; // GitHub's maximum comment body, in characters
const READ_LIMIT = 1 << 20; // bytes read from any artifact file
const CONCLUSIONS = new Set(
  "success failure neutral cancelled skipped timed_out action_required stale".split(" "),
);

class Refused extends Error {}

// At most `limit` bytes of a file, decoded as UTF-8 (bad bytes replaced); null when absent.
function readCapped(path, limit) {
  let fd;
  try {
    fd = openSync(path, "r");
  } catch {
    return null;
  }
  try {
    const buffer = Buffer.alloc(limit);
    let size = 0;
    for (let n; size < limit && (n = readSync(fd, buffer, size, limit - size, null)) > 0; ) {
      size += n;
    }
    return new TextDecoder("utf-8").decode(buffer.subarray(0, size));
  } finally {
    closeSync(fd);
  }
}

// --- binding the pull request to the run ---------------------------------------------------

function matchesRun(pr, run, repository) {
  return (
    pr?.head?.sha === run.head_sha &&
    pr?.head?.repo?.id === run.head_repository.id &&
    pr?.base?.repo?.id === repository.id
  );
}

// Numbers of the open pull requests of this repository whose head is the run's head repository
// at the run's head SHA. Same-repository runs list them in the event; a fork's run lists none,
// so they are looked up by the run's head owner and branch. The event's copy is as old as the
// run, so each listed pull request is read again: a run that finishes after a newer push must
// not overwrite the newer plan.
async function boundPullRequests(api, repoName, run, repository) {
  const listed = (run.pull_requests ?? []).filter((pr) => matchesRun(pr, run, repository));
  if (listed.length) {
    const current = await Promise.all(
      listed.map((pr) => api.get(`repos/${repoName}/pulls/${Number(pr.number)}`)),
    );
    return current
      .filter((pr) => pr?.state === "open" && matchesRun(pr, run, repository))
      .map((pr) => pr.number);
  }
  const pulls = await api.list(`repos/${repoName}/pulls`, {
    state: "open",
    head: `${run.head_repository.owner.login}:${run.head_branch}`,
  });
  return pulls.filter((pr) => matchesRun(pr, run, repository)).map((pr) => pr.number);
}

// The artifact's pr-number may pick one of the bound pull requests (a head branch can be the
// head of several); anything else is refused.
function choosePullRequest(bound, claimed) {
  if (claimed === null || claimed.trim() === "") {
    if (bound.length === 1) return bound[0];
    throw new Refused(
      `the run is bound to ${bound.length} pull requests and the artifact names none`,
    );
  }
  const text = claimed.trim();
  if (!/^[1-9][0-9]{0,9}$/.test(text)) throw new Refused("the artifact's pr-number is not a number");
  const number = Number(text);
  if (!bound.includes(number)) {
    const runs = bound.map((n) => `#${n}`).join(", ");
    throw new Refused(`the artifact names pull request #${number}, which is not the run's (${runs})`);
  }
  return number;
}

// --- the comment body ----------------------------------------------------------------------

// Cuts text to at most `max` characters at a line end, never inside a surrogate pair.
function cut(text, max) {
  if (text.length <= max) return { text, cut: false };
  let end = text.lastIndexOf("\n", max);
  if (end < max / 2) end = max;
  if (/[\uD800-\uDBFF]/.test(text[end - 1] ?? "")) end -= 1;
  return { text: text.slice(0, end), cut: true };
}

// Plain text that cannot render as anything: newlines normalized; control characters (other
// than tab and newline) and bidirectional overrides, which can make text read differently from
// what it is, removed.
function plainText(text) {
  return text
    .replace(/\r\n?/g, "\n")
    .replace(/[\u0000-\u0008\u000B-\u001F\u007F\u200E\u200F\u202A-\u202E\u2066-\u2069]/g, "");
}

function longestBacktickRun(text) {
  let longest = 0;
  for (const run of text.match(/`+/g) ?? []) longest = Math.max(longest, run.length);
  return longest;
}

// The text in a fenced code block longer than any backtick run in it (so no line can close it),
// cut to fit `max` characters in all.
function fenced(text, max) {
  let body = plainText(text);
  let wasCut = false;
  for (;;) {
    const fence = "`".repeat(Math.max(3, longestBacktickRun(body) + 1));
    const note = wasCut ? "\n(cut here: the rest is in the run's artifact)" : "";
    const lines = body.endsWith("\n") || body === "" ? body : `${body}\n`;
    const block = `${fence}text\n${lines}${note ? `${note}\n` : ""}${fence}\n`;
    if (block.length <= max) return block;
    if (body === "") return block;
    // Leave room for the fences; never less than a quarter (a fence is at most the body's
    // length + 1, so a quarter always fits), and always shorter than before.
    const room = Math.max(max - 2 * fence.length - 64, Math.floor(max / 4));
    ({ text: body } = cut(body, Math.min(room, body.length - 1)));
    wasCut = true;
  }
}

function forkBody(markdown, { headSha, runUrl, conclusion }) {
  const head = [
    MARKER,
    "### lfr plan: untrusted, from a fork",
    "",
    "This pull request comes from a fork, so its plan was made by the fork's own copy of the " +
      `workflow (commit \`${headSha.slice(0, 12)}\`), without secrets, and nothing checks what ` +
      "it says. It is **not** the plan of record: review the manifest changes themselves.",
    "",
  ].join("\n");
  const tail = `\n<sub>[Log and artifact of the fork's run](${runUrl})</sub>\n`;
  if (markdown === null || markdown.trim() === "") {
    return `${head}\n**The plan run produced no plan (${conclusion})**: see its log.\n${tail}`;
  }
  const intro = "The fork's plan, as plain text:\n\n";
  const room = BODY_LIMIT - head.length - intro.length - tail.length;
  return head + intro + fenced(markdown, room) + tail;
}

function sameRepoBody(markdown, { runUrl, conclusion }) {
  const tail = `\n<sub>[Full plan, log and artifact](${runUrl})</sub>\n`;
  if (markdown === null || markdown.trim() === "") {
    const none = `**The plan run produced no plan (${conclusion})**: see the annotations and log.`;
    return `${MARKER}\n### lfr plan\n\n${none}\n${tail}`;
  }
  let text = markdown.startsWith(MARKER) ? markdown : `${MARKER}\n${markdown}`;
  const note = "\n\n*(The plan is cut here: the full plan is in the run's artifact.)*\n";
  const fitted = cut(text, BODY_LIMIT - tail.length - note.length);
  text = fitted.text + (fitted.cut ? note : "");
  return text + tail;
}

// --- the job -------------------------------------------------------------------------------

async function upsertComment(api, repoName, number, body) {
  const comments = await api.list(`repos/${repoName}/issues/${number}/comments`);
  const ours = comments.find(
    (c) =>
      c?.user?.login === BOT_LOGIN &&
      c?.user?.type === "Bot" &&
      typeof c.body === "string" &&
      c.body.startsWith(MARKER),
  );
  if (ours) {
    await api.patch(`repos/${repoName}/issues/comments/${Number(ours.id)}`, { body });
    return `updated comment ${Number(ours.id)} on pull request #${number}`;
  }
  await api.post(`repos/${repoName}/issues/${number}/comments`, { body });
  return `created the plan comment on pull request #${number}`;
}

async function main(env) {
  const event = JSON.parse(readCapped(env.GITHUB_EVENT_PATH, 16 << 20));
  const run = event.workflow_run;
  const repository = event.repository;
  const repoName = env.GITHUB_REPOSITORY;
  if (!run || !repository || repository.full_name !== repoName) {
    throw new Refused("not a workflow_run event of this repository");
  }
  if (run.event !== "pull_request") throw new Refused("the run was not triggered by a pull request");
  if (!/^[0-9a-f]{40}(?:[0-9a-f]{24})?$/.test(run.head_sha ?? "")) {
    throw new Refused("the run has no head SHA");
  }
  if (!run.head_repository?.owner?.login) throw new Refused("the run's head repository is gone");
  if (!Number.isSafeInteger(run.id)) throw new Refused("the run has no id");

  const apiUrl = env.GITHUB_API_URL || "https://api.github.com";
  const api = client({ apiUrl, token: env.GITHUB_TOKEN });
  const bound = await boundPullRequests(api, repoName, run, repository);
  if (bound.length === 0) {
    console.log(
      "::warning::No open pull request has the run's head repository and head SHA " +
        "(a newer push?): no comment.",
    );
    return;
  }
  const dir = env.PLAN_DIR || ".";
  const number = choosePullRequest(bound, readCapped(join(dir, "pr-number"), 64));
  const markdown = readCapped(join(dir, "plan.md"), READ_LIMIT);
  const facts = {
    headSha: run.head_sha,
    runUrl: `${env.GITHUB_SERVER_URL || "https://github.com"}/${repoName}/actions/runs/${run.id}`,
    conclusion: CONCLUSIONS.has(run.conclusion) ? run.conclusion : "unknown",
  };
  const fromFork = run.head_repository.id !== repository.id;
  const body = fromFork ? forkBody(markdown, facts) : sameRepoBody(markdown, facts);
  const done = await upsertComment(api, repoName, number, body);
  console.log(`Plan comment: ${done}${fromFork ? " (fork: shown as untrusted)" : ""}.`);
}

runScript("Plan comment refused", main);
