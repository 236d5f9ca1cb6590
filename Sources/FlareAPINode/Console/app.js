// Flare's web console: plain JavaScript over the api's own endpoints (/health, /metrics,
// /admin/...), no framework and no build step. The admin token is kept in sessionStorage
// (gone with the tab) and sent as a bearer token.
"use strict";

const state = {
  token: sessionStorage.getItem("flare-token") || "",
  bucket: null,
  prefix: "",
  next: null,
  samples: [],   // {t, received, sent, putSum, putCount, getSum, getCount}
};

const $ = (id) => document.getElementById(id);

function notice(text, isError) {
  $("notice").textContent = text || "";
  $("notice").className = isError ? "error" : "";
}

function headers(extra) {
  const h = Object.assign({}, extra || {});
  if (state.token) h["Authorization"] = "Bearer " + state.token;
  return h;
}

/** fetch that throws with the server's message on a non-2xx answer. */
async function api(path, options) {
  const opts = Object.assign({}, options || {});
  opts.headers = headers(opts.headers);
  const answer = await fetch(path, opts);
  if (!answer.ok) {
    let message = answer.status + " " + answer.statusText;
    try { message = answer.status + ": " + (await answer.json()).message; } catch (e) { /* not JSON */ }
    const error = new Error(message);
    error.status = answer.status;
    throw error;
  }
  return answer;
}

async function json(path, options) { return (await api(path, options)).json(); }

function bytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? n : n.toFixed(1)) + " " + units[i];
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function button(label, action) {
  const b = document.createElement("button");
  b.textContent = label;
  b.addEventListener("click", action);
  return b;
}

/** Encodes a key for a URL path: each segment escaped, the slashes kept. */

// MARK: cluster view

async function refreshNodes() {
  const health = await json("/health");
  $("engine").textContent = health.engine + " engine, " + health.replicas + " replica" + (health.replicas === 1 ? "" : "s");
  const errors = {};
  for (const node of health.nodes) errors[node.id] = node.lastError;
  const body = $("nodes").tBodies[0];
  const layout = state.token ? await json("/admin/nodes") : null;
  // Rebuilt only when something changed: a row replaced under the pointer loses its click.
  const signature = JSON.stringify([health.nodes, layout]);
  if (signature === state.nodesShown) return;
  state.nodesShown = signature;
  if (!layout) {
    body.replaceChildren();
    for (const node of health.nodes) {
      const row = body.insertRow();
      row.dataset.node = node.id;
      cell(row, node.id.slice(0, 12));
      cell(row, node.address);
      cell(row, node.zone);
      cell(row, "–");
      cell(row, node.state, "state-" + node.state);
      cell(row, "– / " + bytes(node.capacityBytes), "number");
      cell(row, "–", "number");
      cell(row, "–");
      cell(row, node.lastError || "");
      cell(row, "admin token needed", "muted");
    }
    return;
  }
  body.replaceChildren();
  for (const node of layout.nodes) {
    const row = body.insertRow();
    row.dataset.node = node.id;
    cell(row, node.id.slice(0, 12)).title = node.id;
    cell(row, node.address);
    cell(row, node.zone);
    cell(row, node.state + (node.drained ? " (drained)" : ""), "state-" + node.state);
    cell(row, node.health, "state-" + node.health);
    cell(row, bytes(node.used_bytes) + " / " + bytes(node.capacity_bytes), "number");
    cell(row, node.copies === undefined || node.copies === null ? "–" : String(node.copies), "number");
    cell(row, scrubText(node.scrub));
    cell(row, errors[node.id] || "");
    const actions = cell(row, "");
    if (node.state === "active") actions.appendChild(button("drain", () => nodeAction(node, "drain")));
    if (node.state === "draining") actions.appendChild(button("activate", () => nodeAction(node, "activate")));
    if (node.state !== "removed") actions.appendChild(button("remove", () => nodeAction(node, "remove")));
  }
}

/** A node's scrub progress: this pass's share, whole passes, quarantined chunks. */
function scrubText(scrub) {
  if (!scrub) return "–";
  const pass = scrub.total > 0 ? scrub.checked + "/" + scrub.total + " this pass" : "no pass yet";
  const last = scrub.last_pass_end_seconds ? ", last ended " + new Date(scrub.last_pass_end_seconds * 1000).toLocaleString() : "";
  return pass + ", " + scrub.passes + " done" + last + (scrub.quarantined ? ", " + scrub.quarantined + " quarantined" : "");
}

async function nodeAction(node, action) {
  const what = action + " node " + node.id.slice(0, 12) + " (" + node.address + ")";
  if (!confirm(what + "?")) return;
  try {
    await api("/admin/nodes/" + node.id + "/" + action, { method: "POST" });
    notice(what + ": done");
    state.nodesShown = null;
    await refreshNodes();
  } catch (error) {
    notice(what + ": " + error.message, true);
  }
}

/** Sums of the samples' metric families that the plots need, from Prometheus text. */
function parseMetrics(text) {
  const sample = { t: performance.now() / 1000, received: 0, sent: 0, putSum: 0, putCount: 0, getSum: 0, getCount: 0 };
  for (const line of text.split("\n")) {
    if (!line || line[0] === "#") continue;
    const space = line.lastIndexOf(" ");
    const name = line.slice(0, space), value = Number(line.slice(space + 1));
    if (!isFinite(value)) continue;
    const family = name.split("{")[0];
    if (family === "flare_api_received_bytes_total") sample.received += value;
    else if (family === "flare_api_sent_bytes_total") sample.sent += value;
    else if (family === "flare_api_request_seconds_sum" && name.includes('method="PUT"')) sample.putSum += value;
    else if (family === "flare_api_request_seconds_count" && name.includes('method="PUT"')) sample.putCount += value;
    else if (family === "flare_api_request_seconds_sum" && name.includes('method="GET"')) sample.getSum += value;
    else if (family === "flare_api_request_seconds_count" && name.includes('method="GET"')) sample.getCount += value;
  }
  return sample;
}

async function refreshPlots() {
  const text = await (await api("/metrics")).text();
  state.samples.push(parseMetrics(text));
  if (state.samples.length > 61) state.samples.shift();
  const rates = [], latencies = [];
  for (let i = 1; i < state.samples.length; i++) {
    const a = state.samples[i - 1], b = state.samples[i], dt = Math.max(b.t - a.t, 0.001);
    rates.push([(b.received - a.received) / dt / 1e6, (b.sent - a.sent) / dt / 1e6]);
    const puts = b.putCount - a.putCount, gets = b.getCount - a.getCount;
    latencies.push([puts > 0 ? (b.putSum - a.putSum) / puts * 1000 : null, gets > 0 ? (b.getSum - a.getSum) / gets * 1000 : null]);
  }
  plot($("throughput"), rates);
  plot($("latency"), latencies);
}

/** Two series (PUT, GET) on a canvas, the newest on the right. */
function plot(canvas, points) {
  const g = canvas.getContext("2d"), w = canvas.width, h = canvas.height, left = 48, bottom = 18, pad = 8;
  g.clearRect(0, 0, w, h);
  let top = 1;
  for (const p of points) for (const v of p) if (v !== null && v > top) top = v;
  top = niceCeiling(top);
  g.strokeStyle = "#e3e6ea"; g.fillStyle = "#6b7785"; g.font = "11px sans-serif";
  const yOf = (v) => pad + (h - bottom - pad) * (1 - v / top);
  for (let i = 0; i <= 4; i++) {
    const y = Math.round(yOf(top * i / 4)) + 0.5;
    g.beginPath(); g.moveTo(left, y); g.lineTo(w, y); g.stroke();
    g.fillText(String(+(top * i / 4).toPrecision(3)), 4, y + 4);
  }
  g.fillText("60 s ago", left, h - 4);
  g.fillText("now", w - 24, h - 4);
  ["#ff6a00", "#1f6feb"].forEach((color, series) => {
    g.strokeStyle = color; g.lineWidth = 2; g.beginPath();
    let drawing = false;
    points.forEach((p, i) => {
      const v = p[series];
      if (v === null) { drawing = false; return; }
      const x = left + (w - left) * (i + 60 - points.length) / 59, y = yOf(v);
      if (drawing) g.lineTo(x, y); else g.moveTo(x, y);
      drawing = true;
    });
    g.stroke(); g.lineWidth = 1;
  });
}

function niceCeiling(v) {
  const power = Math.pow(10, Math.floor(Math.log10(v)));
  for (const step of [1, 2, 5, 10]) if (v <= step * power) return step * power;
  return 10 * power;
}

async function refreshRepair() {
  if (!state.token) return;
  const repair = await json("/admin/repair");
  const list = document.createElement("dl");
  list.className = "repair";
  const add = (label, value) => {
    const dt = document.createElement("dt"), dd = document.createElement("dd");
    dt.textContent = label; dd.textContent = value;
    list.append(dt, dd);
  };
  add("state", repair.state);
  add("lost nodes", (repair.lost_nodes || []).map((id) => id.slice(0, 12)).join(", ") || "none");
  const pass = repair.pass;
  if (pass) {
    const percent = pass.chunks_total > 0 ? Math.round(100 * pass.chunks_done / pass.chunks_total) : 100;
    add("this pass", pass.chunks_done + " of " + pass.chunks_total + " chunks (" + percent + "%), " + bytes(pass.bytes_done) + " of " + bytes(pass.bytes_total));
    add("rate", pass.rate_bytes_per_second ? bytes(pass.rate_bytes_per_second) + "/s" : "–");
    add("eta", pass.eta_seconds ? Math.round(pass.eta_seconds) + " s" : "–");
    add("found", pass.lost + " lost, " + pass.few + " under-replicated, " + pass.misplaced + " misplaced (rebalance)");
  } else {
    add("this pass", "none yet");
  }
  if (repair.totals) add("copies made in all", String(repair.totals.copies ?? "–") + ", " + bytes(repair.totals.bytes));
  const signature = list.innerHTML;
  if (signature === state.repairShown) return;
  state.repairShown = signature;
  $("repair").replaceChildren(list);
  $("repair").className = "";
}

async function refreshCluster() {
  try {
    await Promise.all([refreshNodes(), refreshPlots(), refreshRepair()]);
    if ($("notice").className === "error" && $("notice").dataset.source === "cluster") notice("");
  } catch (error) {
    notice("cluster: " + error.message, true);
    $("notice").dataset.source = "cluster";
  }
}

// MARK: objects view

async function loadBuckets() {
  const select = $("bucket");
  if (!state.token) { notice("the object browser needs the admin token", true); return; }
  const answer = await json("/admin/buckets");
  select.replaceChildren();
  for (const bucket of answer.buckets) {
    const option = document.createElement("option");
    option.value = bucket.name;
    option.textContent = bucket.name + (bucket.native ? " (native API)" : "") + (bucket.publicRead ? " (public-read)" : "");
    select.appendChild(option);
  }
  if (!state.bucket || !answer.buckets.some((b) => b.name === state.bucket)) {
    const native = answer.buckets.find((b) => b.native);
    state.bucket = native ? native.name : (answer.buckets[0] || {}).name;
  }
  select.value = state.bucket;
  await listObjects(true);
}

async function listObjects(fresh) {
  if (!state.bucket) return;
  if (fresh) { state.next = null; $("listing").tBodies[0].replaceChildren(); }
  const query = new URLSearchParams({ prefix: state.prefix, delimiter: "/", limit: "200" });
  if (state.next) query.set("start-after", state.next);
  const page = await json("/admin/buckets/" + encodeURIComponent(state.bucket) + "/objects?" + query);
  const body = $("listing").tBodies[0];
  for (const prefix of page.prefixes) {
    const row = body.insertRow();
    const link = document.createElement("a");
    link.className = "folder";
    link.textContent = prefix.slice(state.prefix.length);
    link.addEventListener("click", () => { state.prefix = prefix; renderBreadcrumbs(); listObjects(true); });
    row.insertCell().appendChild(link);
    cell(row, ""); cell(row, ""); cell(row, ""); cell(row, "");
  }
  for (const object of page.objects) {
    const row = body.insertRow();
    row.dataset.key = object.key;
    cell(row, object.key.slice(state.prefix.length));
    cell(row, bytes(object.size), "number").title = object.size + " bytes";
    cell(row, new Date(object.lastModified).toLocaleString());
    cell(row, object.etag);
    const actions = cell(row, "");
    actions.appendChild(button("download", () => download(object.key)));
    actions.appendChild(button("delete", () => remove(object.key)));
  }
  state.next = page.isTruncated ? page.nextStartAfter : null;
  $("more").hidden = !state.next;
  renderBreadcrumbs();
}

function renderBreadcrumbs() {
  const crumbs = $("breadcrumbs");
  crumbs.replaceChildren();
  const parts = state.prefix.split("/").filter((p) => p);
  const go = (prefix, label) => {
    const a = document.createElement("a");
    a.textContent = label;
    a.addEventListener("click", () => { state.prefix = prefix; listObjects(true); });
    crumbs.append(a, document.createTextNode(" / "));
  };
  go("", state.bucket || "");
  let path = "";
  for (const part of parts) { path += part + "/"; go(path, part); }
}

function objectURL(key) {
  // The whole key as one segment, its slashes as %2F: a browser resolves "." and ".." segments
  // (also %2E ones) before sending, so "a/../b" sent as a path would name, and delete, "b".
  return "/admin/buckets/" + encodeURIComponent(state.bucket) + "/object/" + encodeURIComponent(key);
}

async function download(key) {
  try {
    // A signed link the browser follows itself, so the object streams to disk however large
    // (a fetch would hold it all in the page's memory): the link needs no token for 5 minutes.
    const ticket = await json(objectURL(key) + "?download-url");
    const link = document.createElement("a");
    link.href = ticket.url;
    link.download = key.split("/").pop();
    document.body.appendChild(link);
    link.click();
    link.remove();
    notice("downloading " + key);
  } catch (error) {
    notice("download of " + key + ": " + error.message, true);
  }
}

async function remove(key) {
  if (!confirm("Delete " + key + " from " + state.bucket + "? This cannot be undone.")) return;
  try {
    await api(objectURL(key), { method: "DELETE" });
    notice("deleted " + key);
    await listObjects(true);
  } catch (error) {
    notice("delete of " + key + ": " + error.message, true);
  }
}

/** Streams the chosen file as a form upload (POST, multipart/form-data) with a progress bar. */
function upload(event) {
  event.preventDefault();
  const file = $("file").files[0];
  if (!file) { notice("choose a file first", true); return; }
  const key = $("upload-key").value || state.prefix + file.name;
  const form = new FormData();
  form.append("file", file, file.name);
  const request = new XMLHttpRequest();
  request.open("POST", objectURL(key));
  if (state.token) request.setRequestHeader("Authorization", "Bearer " + state.token);
  const progress = $("progress");
  progress.hidden = false;
  progress.value = 0;
  $("upload-status").textContent = "uploading " + key + "…";
  request.upload.addEventListener("progress", (e) => { if (e.lengthComputable) progress.value = e.loaded / e.total; });
  request.addEventListener("load", () => {
    progress.hidden = true;
    if (request.status === 201) {
      const stored = JSON.parse(request.responseText);
      $("upload-status").textContent = "stored " + key + " (" + bytes(stored.size) + ", " + stored.chunks + " chunks)";
      $("file").value = "";
      $("upload-key").value = "";
      listObjects(true);
    } else {
      let message = request.status + "";
      try { message += ": " + JSON.parse(request.responseText).message; } catch (e) { /* not JSON */ }
      $("upload-status").textContent = "upload of " + key + " failed: " + message;
    }
  });
  request.addEventListener("error", () => { progress.hidden = true; $("upload-status").textContent = "upload of " + key + " failed: connection lost"; });
  request.send(form);
}

// MARK: wiring

function show(view) {
  for (const name of ["cluster", "objects"]) {
    $(name).hidden = name !== view;
    $("tab-" + name).className = name === view ? "active" : "";
  }
  if (view === "objects") loadBuckets().catch((error) => notice("objects: " + error.message, true));
}

$("token").value = state.token;
$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  state.token = $("token").value.trim();
  state.nodesShown = state.repairShown = null;
  sessionStorage.setItem("flare-token", state.token);
  notice(state.token ? "token set" : "token cleared");
  refreshCluster();
  if (location.hash === "#objects") loadBuckets().catch((error) => notice("objects: " + error.message, true));
});
$("bucket").addEventListener("change", () => { state.bucket = $("bucket").value; state.prefix = ""; listObjects(true); });
$("more").addEventListener("click", () => listObjects(false));
$("upload-form").addEventListener("submit", upload);
window.addEventListener("hashchange", () => show(location.hash === "#objects" ? "objects" : "cluster"));
show(location.hash === "#objects" ? "objects" : "cluster");
refreshCluster();
setInterval(() => { if (!$("cluster").hidden) refreshCluster(); }, 1000);
