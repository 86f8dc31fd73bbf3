// Keeps ONE open issue about CRM drift (drift.yml): on drift (DRIFT_EXIT=2) the report becomes
// the body of the open lfr-drift issue this job's bot opened, or of a new one; without drift
// (DRIFT_EXIT=0) the bot's open lfr-drift issues are closed. An issue anyone else wrote is never
// edited or closed, whatever its label (a label can come from an issue template or a triager).
//
// Inputs (environment): GITHUB_REPOSITORY, GITHUB_API_URL (set by the runner), GITHUB_TOKEN,
// DRIFT_EXIT, REPORT (the markdown report of `lfr drift`).

import { readFileSync } from "node:fs";
import { client, GitHubError, runScript } from "./github-api.mjs";

const LABEL = "lfr-drift";
const BOT_LOGIN = "github-actions[bot]";
const TITLE = "CRM drift: managed opportunities differ from the manifests";
const BODY_LIMIT = 65536; // GitHub's maximum issue body, in characters

function report(path) {
  const text = readFileSync(path, "utf8");
  if (text.length <= BODY_LIMIT) return text;
  const note = "\n\n*(The report is cut here: the full report is in the run's job summary.)*\n";
  let end = text.lastIndexOf("\n", BODY_LIMIT - note.length);
  if (end < 1) end = BODY_LIMIT - note.length;
  return text.slice(0, end) + note;
}

async function main(env) {
  const repo = env.GITHUB_REPOSITORY;
  const apiUrl = env.GITHUB_API_URL || "https://api.github.com";
  const api = client({ apiUrl, token: env.GITHUB_TOKEN });
  const labelled = await api.list(`repos/${repo}/issues`, { state: "open", labels: LABEL });
  const ours = labelled.filter(
    (issue) =>
      !issue.pull_request && issue?.user?.login === BOT_LOGIN && issue?.user?.type === "Bot",
  );
  if (env.DRIFT_EXIT === "2") {
    const body = report(env.REPORT || "drift.md");
    if (ours.length) {
      await api.patch(`repos/${repo}/issues/${Number(ours[0].number)}`, { body });
      console.log(`Drift issue #${Number(ours[0].number)} updated.`);
      return;
    }
    try {
      const label = { name: LABEL, color: "B60205", description: "lfr found CRM drift" };
      await api.post(`repos/${repo}/labels`, label);
    } catch (error) {
      if (!(error instanceof GitHubError && error.status === 422)) throw error; // 422: it exists
    }
    const issue = await api.post(`repos/${repo}/issues`, { title: TITLE, body, labels: [LABEL] });
    console.log(`Drift issue #${Number(issue.number)} opened.`);
  } else if (env.DRIFT_EXIT === "0") {
    const today = new Date().toISOString().slice(0, 10);
    for (const issue of ours) {
      const number = Number(issue.number);
      const body = `No drift any more (${today}): closing.`;
      await api.post(`repos/${repo}/issues/${number}/comments`, { body });
      await api.patch(`repos/${repo}/issues/${number}`, { state: "closed", state_reason: "completed" });
      console.log(`Drift issue #${number} closed.`);
    }
  } else {
    throw new Error("DRIFT_EXIT must be 0 or 2");
  }
}

runScript("Drift issue", main);
