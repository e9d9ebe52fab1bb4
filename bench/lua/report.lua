-- After the run: one line the bench parses, with the whole latency histogram
-- (microseconds: count), so rounds can be merged into exact percentiles.
done = function(summary, latency, requests)
  local parts = {}
  -- wrk 4.1: #latency is the number of distinct values, latency(i) the i-th
  -- value and how often it was seen.
  for i = 1, #latency do
    local v, c = latency(i)
    parts[#parts + 1] = string.format("%d:%d", v, c)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"histogram":"%s"}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    table.concat(parts, ",")))
end
