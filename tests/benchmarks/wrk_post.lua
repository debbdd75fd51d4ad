-- wrk script for bench_ingest.py: POST one recommendation per request, each with a unique
-- external_id (<run prefix>-<wrk thread>-<counter>), and print a JSON summary line.
-- Arguments after `--`: <path> <api key or -> <body head> <body tail> <run prefix>
-- The body is head .. external_id .. tail (bench_ingest.py splits a real item around it).

local next_thread_id = 0

function setup(thread)
  thread:set("thread_id", next_thread_id)
  next_thread_id = next_thread_id + 1
end

local counter = 0
local path, headers, head, tail, prefix

function init(args)
  path = args[1]
  headers = { ["Content-Type"] = "application/json" }
  if args[2] ~= "-" then
    headers["Authorization"] = "Bearer " .. args[2]
  end
  head, tail, prefix = args[3], args[4], args[5]
end

function request()
  counter = counter + 1
  local body = head .. prefix .. "-" .. thread_id .. "-" .. counter .. tail
  return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "status_errors": %d, "connect_errors": %d, '
      .. '"read_errors": %d, "write_errors": %d, "timeout_errors": %d, '
      .. '"p50_us": %d, "p95_us": %d, "p99_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.mean))
end
