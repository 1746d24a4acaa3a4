#include "status_page.hpp"

#include <ctime>
#include <nlohmann/json.hpp>

#include "metrics.hpp"
#include "python/build_info.hpp"

namespace kiln {
namespace {

constexpr std::string_view page = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>kiln status</title>
<style>
  :root { --ink: #1d2433; --muted: #667085; --line: #e4e7ec; --fire: #e8590c; --ok: #12b76a;
          --warn: #f79009; --bad: #d92d20; --card: #fff; --bg: #f5f6f8; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
         color: var(--ink); background: var(--bg); }
  header { display: flex; align-items: baseline; gap: 16px; padding: 18px 28px;
           background: #111827; color: #fff; }
  header h1 { margin: 0; font-size: 20px; letter-spacing: .02em; }
  header h1 span { color: var(--fire); }
  header .meta { color: #9ca3af; font-size: 13px; }
  header .live { margin-left: auto; font-size: 13px; color: #9ca3af; }
  header .live b { display: inline-block; width: 8px; height: 8px; border-radius: 50%;
                   background: var(--ok); margin-right: 6px; }
  main { padding: 20px 28px 40px; display: grid; gap: 18px; max-width: 1280px; }
  .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 14px; }
  .card { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
          padding: 14px 16px; }
  .card .label { color: var(--muted); font-size: 12px; text-transform: uppercase;
                 letter-spacing: .06em; }
  .card .value { font-size: 26px; font-weight: 650; margin-top: 4px;
                 font-variant-numeric: tabular-nums; }
  .card .value small { font-size: 14px; color: var(--muted); font-weight: 500; }
  .charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 14px; }
  .chart h2, section h2 { margin: 0 0 8px; font-size: 14px; }
  .chart svg { width: 100%; height: 180px; display: block; }
  .legend { display: flex; gap: 14px; color: var(--muted); font-size: 12px; margin-top: 6px; }
  .legend i { display: inline-block; width: 10px; height: 3px; vertical-align: middle;
              margin-right: 5px; }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid var(--line); }
  th { color: var(--muted); font-weight: 600; font-size: 12px; text-transform: uppercase;
       letter-spacing: .05em; }
  td.num, th.num { text-align: right; }
  .state { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px;
           font-weight: 600; }
  .state.ready { background: #d1fadf; color: #05603a; }
  .state.booting { background: #fef0c7; color: #93370d; }
  .state.stopping { background: #fee4e2; color: #912018; }
  .exits { display: flex; flex-wrap: wrap; gap: 8px; }
  .exits span { background: var(--bg); border: 1px solid var(--line); border-radius: 6px;
                padding: 3px 9px; font-size: 13px; }
  .note { color: var(--muted); font-size: 12px; }
</style>
</head>
<body>
<header>
  <h1><span>kiln</span> status</h1>
  <div class="meta" id="build"></div>
  <div class="live"><b id="live-dot"></b><span id="updated">connecting…</span></div>
</header>
<main>
  <div class="cards">
    <div class="card"><div class="label">Requests / s</div><div class="value" id="rate">–</div></div>
    <div class="card"><div class="label">Latency p50</div><div class="value" id="p50">–</div></div>
    <div class="card"><div class="label">Latency p99</div><div class="value" id="p99">–</div></div>
    <div class="card"><div class="label">Requests</div><div class="value" id="requests-total">–</div></div>
    <div class="card"><div class="label">Workers</div><div class="value" id="worker-count">–</div></div>
    <div class="card"><div class="label">Restarts</div><div class="value" id="restarts">–</div></div>
  </div>
  <div class="charts">
    <div class="card chart"><h2>Requests per second</h2><svg id="rate-chart" viewBox="0 0 600 180" preserveAspectRatio="none"></svg>
      <div class="legend"><span><i style="background:var(--fire)"></i>all</span><span><i style="background:var(--bad)"></i>5xx</span></div></div>
    <div class="card chart"><h2>Latency (ms)</h2><svg id="latency-chart" viewBox="0 0 600 180" preserveAspectRatio="none"></svg>
      <div class="legend"><span><i style="background:#2e90fa"></i>p50</span><span><i style="background:var(--warn)"></i>p90</span><span><i style="background:var(--bad)"></i>p99</span></div></div>
  </div>
  <section class="card">
    <h2>Workers</h2>
    <table>
      <thead><tr><th>PID</th><th>State</th><th class="num">Age</th><th class="num">Requests</th><th class="num">Busy threads</th><th class="num">Connections</th></tr></thead>
      <tbody id="workers"></tbody>
    </table>
  </section>
  <section class="card">
    <h2>Worker exits</h2>
    <div class="exits" id="exits"></div>
    <p class="note">Charts cover the last five minutes, sampled by the master once a second; the counters, the life of the master.</p>
  </section>
</main>
<script>
"use strict";
const keep = 300;             // Five minutes of the master's samples, one a second.

function quantile(q, bounds, counts) {
  // counts are cumulative per bucket, the last one +Inf; linear within a bucket.
  const total = counts[counts.length - 1];
  if (total <= 0) return null;
  const rank = q * total;
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] >= rank) {
      if (i >= bounds.length) return bounds[bounds.length - 1];
      const lower = i === 0 ? 0 : bounds[i - 1];
      const below = i === 0 ? 0 : counts[i - 1];
      const inside = counts[i] - below;
      return inside > 0 ? lower + (bounds[i] - lower) * (rank - below) / inside : bounds[i];
    }
  }
  return bounds[bounds.length - 1];
}

function cumulative(buckets) {
  let sum = 0;
  return buckets.map(n => (sum += n));
}

function formatDuration(seconds) {
  if (seconds === null) return "–";
  const ms = seconds * 1000;
  return ms < 10 ? ms.toFixed(2) + "<small> ms</small>" : ms < 1000 ? ms.toFixed(0) + "<small> ms</small>"
                 : (ms / 1000).toFixed(2) + "<small> s</small>";
}

function formatAge(seconds) {
  if (seconds < 120) return seconds + " s";
  if (seconds < 7200) return Math.floor(seconds / 60) + " min";
  return Math.floor(seconds / 3600) + " h";
}

function draw(svg, series) {
  const width = 600, height = 180, pad = 6;
  const max = Math.max(1e-9, ...series.flatMap(s => s.points.filter(v => v !== null)));
  const step = width / Math.max(1, keep - 1);
  let markup = "";
  for (let g = 1; g <= 3; g++) {
    const y = pad + (height - 2 * pad) * g / 4;
    markup += `<line x1="0" x2="${width}" y1="${y}" y2="${y}" stroke="#eef0f3" stroke-width="1"/>`;
  }
  for (const s of series) {
    const offset = keep - s.points.length;
    const coords = s.points.map((v, i) => v === null ? null :
        `${((offset + i) * step).toFixed(1)},${(height - pad - (height - 2 * pad) * v / max).toFixed(1)}`)
      .filter(c => c !== null);
    if (coords.length > 0) {
      markup += `<polyline class="series" data-name="${s.name}" fill="none" stroke="${s.color}" ` +
                `stroke-width="2" vector-effect="non-scaling-stroke" points="${coords.join(" ")}"/>`;
    }
  }
  markup += `<text x="4" y="14" font-size="11" fill="#667085">${max >= 1 ? max.toFixed(0) : max.toPrecision(2)}</text>`;
  svg.innerHTML = markup;
}

function render(now) {
  document.getElementById("build").textContent =
      `version ${now.version} · Python ${now.python} · up ${formatAge(now.uptime_seconds)}`;
  document.getElementById("requests-total").textContent = now.requests.toLocaleString("en");
  document.getElementById("worker-count").textContent = now.workers.length;
  const restarts = Object.values(now.exits).reduce((a, b) => a + b, 0);
  document.getElementById("restarts").textContent = restarts;
  const rows = now.workers.map(w => `<tr data-pid="${w.pid}"><td>${w.pid}</td>` +
      `<td><span class="state ${w.state}">${w.state}</span></td>` +
      `<td class="num">${formatAge(w.age_seconds)}</td><td class="num">${w.requests.toLocaleString("en")}</td>` +
      `<td class="num">${w.busy_threads}</td><td class="num">${w.connections}</td></tr>`);
  document.getElementById("workers").innerHTML = rows.join("");
  document.getElementById("exits").innerHTML = Object.entries(now.exits)
      .map(([cause, n]) => `<span data-cause="${cause}">${cause.replace("_", " ")}: <b>${n}</b></span>`).join("");

  // Each second of the master's history is a point: the difference between two samples.
  const history = [];
  for (let i = 1; i < now.history.length; i++) {
    const before = now.history[i - 1], after = now.history[i];
    const seconds = Math.max(0.001, after.time - before.time);
    const counts = cumulative(after.durations.map((n, b) => n - before.durations[b]));
    history.push({
      rate: (after.requests - before.requests) / seconds,
      errors: (after.errors - before.errors) / seconds,
      p50: quantile(0.5, now.bounds, counts), p90: quantile(0.9, now.bounds, counts),
      p99: quantile(0.99, now.bounds, counts),
    });
  }
  if (history.length > 0) {
    const point = history[history.length - 1];
    document.getElementById("rate").textContent = point.rate.toFixed(point.rate < 10 ? 1 : 0);
    document.getElementById("p50").innerHTML = formatDuration(point.p50);
    document.getElementById("p99").innerHTML = formatDuration(point.p99);
    draw(document.getElementById("rate-chart"), [
      {name: "all", color: "var(--fire)", points: history.map(p => p.rate)},
      {name: "5xx", color: "var(--bad)", points: history.map(p => p.errors)}]);
    const ms = v => v === null ? null : v * 1000;
    draw(document.getElementById("latency-chart"), [
      {name: "p50", color: "#2e90fa", points: history.map(p => ms(p.p50))},
      {name: "p90", color: "var(--warn)", points: history.map(p => ms(p.p90))},
      {name: "p99", color: "var(--bad)", points: history.map(p => ms(p.p99))}]);
  }
  document.getElementById("updated").textContent = "updated " + new Date().toLocaleTimeString("en-GB");
}

async function poll() {
  try {
    const answer = await fetch("status.json", {cache: "no-store"});
    render(await answer.json());
    document.getElementById("live-dot").style.background = "var(--ok)";
  } catch (error) {
    document.getElementById("updated").textContent = "kiln does not answer";
    document.getElementById("live-dot").style.background = "var(--bad)";
  }
}
poll();
setInterval(poll, 1000);
</script>
</body>
</html>
)html";

}  // namespace

std::string_view status_page_html() noexcept {
  return page;
}

std::string status_json(const scoreboard& board) {
  const master_counters& master = board.master();
  board_totals totals = read_totals(board);
  nlohmann::json workers = nlohmann::json::array();
  std::uint64_t now_ms = monotonic_ms();
  for (std::size_t i = 0; i < board.capacity(); ++i) {
    const worker_slot& slot = board.slot(i);
    auto state = slot.state.load();
    if (state == worker_state::free) continue;
    std::uint64_t started = slot.gauges.started_ms.load();
    workers.push_back({
        {"pid", slot.pid.load()},
        {"state", worker_state_names[static_cast<std::size_t>(state)]},
        {"age_seconds", now_ms > started ? (now_ms - started) / 1000 : 0},
        {"requests", slot.requests.load(std::memory_order_relaxed)},
        {"busy_threads", slot.gauges.python_busy.load(std::memory_order_relaxed)},
        {"connections", slot.gauges.connections.load(std::memory_order_relaxed)},
    });
  }
  // The history, oldest first; a sample the master is writing now is left out.
  nlohmann::json history = nlohmann::json::array();
  std::uint64_t taken = master.history_taken.load();
  for (std::uint64_t n = taken > history_length ? taken - history_length : 0; n < taken; ++n) {
    const history_sample& sample = master.history[n % history_length];
    std::uint64_t sequence = sample.sequence.load();
    nlohmann::json durations = nlohmann::json::array();
    for (const auto& bucket : sample.durations)
      durations.push_back(bucket.load());
    nlohmann::json entry = {{"time", static_cast<double>(sample.unix_ms.load()) / 1000.0},
                            {"requests", sample.requests.load()},
                            {"errors", sample.errors.load()},
                            {"durations", std::move(durations)}};
    if (sequence % 2 == 0 && sample.sequence.load() == sequence) history.push_back(entry);
  }
  nlohmann::json exits = nlohmann::json::object();
  for (std::size_t cause = 0; cause < std::size(exit_cause_names); ++cause)
    exits[exit_cause_names[cause]] = master.exits[cause].load();
  nlohmann::json bounds = nlohmann::json::array();
  for (auto bound : duration_bounds_us)
    bounds.push_back(static_cast<double>(bound) / 1e6);
  timespec wall{};
  clock_gettime(CLOCK_REALTIME, &wall);
  nlohmann::json status = {
      {"version", KILN_VERSION},
      {"python", python::built_version},
      {"time", static_cast<double>(wall.tv_sec) + static_cast<double>(wall.tv_nsec) / 1e9},
      {"uptime_seconds",
       static_cast<std::uint64_t>(wall.tv_sec) - master.started_unix_seconds.load()},
      {"requests", totals.all_requests()},
      {"errors", totals.server_errors()},
      {"bounds", bounds},
      {"durations", totals.durations},
      {"workers", workers},
      {"worker_starts", master.worker_starts.load()},
      {"exits", exits},
      {"history", history},
  };
  return status.dump();
}

}  // namespace kiln
