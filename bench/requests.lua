-- wrk script: each request is a random line of the file named by BENCH_REQUESTS.
-- A line is a path ("/v1/chatkit/threads/cthr_..."), or
-- "METHOD<TAB>path<TAB>body<TAB>Header: value|Header: value" (body and headers optional).
-- BENCH_KEY, when set, is sent as the Bearer token with "OpenAI-Beta: chatkit_beta=v1".
-- At the end it prints one line "BENCH_RESULT {json}" for bench/run.py.

local function split(line, sep)
  local parts = {}
  local start = 1
  while true do
    local i = string.find(line, sep, start, true)
    if not i then
      table.insert(parts, string.sub(line, start))
      return parts
    end
    table.insert(parts, string.sub(line, start, i - 1))
    start = i + 1
  end
end

local function parse(line)
  local parts = split(line, "\t")
  if #parts == 1 then
    return "GET", parts[1], nil, nil
  end
  local body, headers = nil, nil
  if parts[3] and parts[3] ~= "" then body = parts[3] end
  if parts[4] and parts[4] ~= "" then
    -- wrk.format uses these instead of wrk.headers: start from a copy of those.
    headers = {}
    for name, value in pairs(wrk.headers) do headers[name] = value end
    for _, h in ipairs(split(parts[4], "|")) do
      local colon = string.find(h, ":", 1, true)
      headers[string.sub(h, 1, colon - 1)] = (string.gsub(string.sub(h, colon + 1), "^%s+", ""))
    end
  end
  return parts[1], parts[2], headers, body
end

local key = os.getenv("BENCH_KEY")
if key and key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
  wrk.headers["OpenAI-Beta"] = "chatkit_beta=v1"
end

-- Every request is formatted once here; request() only picks one.
local requests = {}
for line in io.lines(os.getenv("BENCH_REQUESTS")) do
  if line ~= "" then
    local method, path, headers, body = parse(line)
    table.insert(requests, wrk.format(method, path, headers, body))
  end
end

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("number", threads)
end

function init(args)
  math.randomseed(os.time() * 1000 + (number or 0))
end

function request()
  return requests[math.random(#requests)]
end

function done(summary, latency, requests_)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max))
end
