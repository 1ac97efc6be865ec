-- One request shape for every benchmark, set by environment variables, so each scenario
-- in bench/run.py is data, not another script:
--   BENCH_METHOD, BENCH_PATH, BENCH_BODY (with {n}: a number unique to the request, and
--   {agency}: the seeded agency id for n, {conversation}: the n-th of BENCH_CONVERSATIONS,
--   a comma-separated list, round robin), BENCH_KEY ("unique:<prefix>", "fixed:<key>" or empty),
--   BENCH_AUTH (a header line such as "Authorization: Bearer ..."), BENCH_ACCEPT_ENCODING
--   (the Accept-Encoding header, none when empty), BENCH_OFFSET (where
--   n starts), BENCH_PACE_MS (the mean wait between a connection's requests; 0 = flat out),
--   BENCH_OUT (where done() writes its JSON summary), BENCH_FAILURES (where the first
--   failed answers are written, so the report can say what went wrong).
local method = os.getenv("BENCH_METHOD") or "GET"
local path = os.getenv("BENCH_PATH") or "/"
local body_template = os.getenv("BENCH_BODY") or ""
local key_mode = os.getenv("BENCH_KEY") or ""
local auth = os.getenv("BENCH_AUTH") or ""
local accept_encoding = os.getenv("BENCH_ACCEPT_ENCODING") or ""
local offset = tonumber(os.getenv("BENCH_OFFSET") or "0")
local pace_ms = tonumber(os.getenv("BENCH_PACE_MS") or "0")
local out = os.getenv("BENCH_OUT")
local failures = os.getenv("BENCH_FAILURES")
local conversations = {}
for id in (os.getenv("BENCH_CONVERSATIONS") or ""):gmatch("[^,]+") do
  conversations[#conversations + 1] = id
end

local counter = 0

local function headers_for(n)
  local headers = { ["Accept"] = "application/json, text/html" }
  if body_template ~= "" then headers["Content-Type"] = "application/json" end
  if accept_encoding ~= "" then headers["Accept-Encoding"] = accept_encoding end
  if key_mode:sub(1, 7) == "unique:" then
    headers["Idempotency-Key"] = key_mode:sub(8) .. "-" .. n
  elseif key_mode:sub(1, 6) == "fixed:" then
    headers["Idempotency-Key"] = key_mode:sub(7)
  end
  local name, value = auth:match("^([^:]+):%s*(.*)$")
  if name then headers[name] = value end
  return headers
end

function request()
  counter = counter + 1
  local n = offset + counter
  local agency = string.format("00000000-0000-4000-8000-%012d", n)
  local body = body_template:gsub("{n}", tostring(n)):gsub("{agency}", agency)
  if #conversations > 0 then
    body = body:gsub("{conversation}", conversations[n % #conversations + 1])
  end
  if body == "" then body = nil end
  return wrk.format(method, path, headers_for(n), body)
end

-- Paced runs wait a random time between requests, pace_ms on average: connections that
-- all waited the same time would fire in lockstep, a burst no real traffic makes.
if pace_ms > 0 then
  math.randomseed(offset)
  function delay()
    return math.random(0, 2 * pace_ms)
  end
end

if failures then
  local noted = 0
  function response(status, headers, body)
    if status >= 400 and noted < 3 then
      noted = noted + 1
      local file = assert(io.open(failures, "a"))
      file:write(status, " ", body, "\n")
      file:close()
    end
  end
end

function done(summary, latency, requests)
  local file = assert(io.open(out, "w"))
  file:write(string.format(
    '{"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, ' ..
    '"p50_us": %d, "p99_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean))
  file:close()
end
