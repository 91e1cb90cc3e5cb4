-- wrk script for every bench scenario; bench/run.py sets these variables:
--   BENCH_METHOD  GET or POST
--   BENCH_BODY    request body (JSON), if any
--   BENCH_TOKEN   bearer token, if any
wrk.method = os.getenv("BENCH_METHOD") or "GET"
wrk.headers["Content-Type"] = "application/json"
local body = os.getenv("BENCH_BODY")
if body and body ~= "" then
  wrk.body = body
end
local token = os.getenv("BENCH_TOKEN")
if token and token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end
