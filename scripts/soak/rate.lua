-- wrk script for scripts/soak.sh: a paced load, and optionally a different
-- bearer token per request.
--
--   wrk ... -s rate.lua URL -- DELAY_MS [TOKENS_FILE]
--
-- wrk has no rate limit. Each connection here waits DELAY_MS after each
-- response before sending its next request, so C connections give about
-- C * 1000 / (DELAY_MS + latency) requests/s; soak.sh measures what a slice
-- reached and corrects DELAY_MS for the next one. wrk's delay() takes whole
-- milliseconds, so a fractional DELAY_MS is dithered: floor or floor + 1,
-- picked at random with the fraction as probability (the mean is DELAY_MS).
--
-- TOKENS_FILE: one token a line, sent as "Authorization: Bearer <line>",
-- cycling; each thread starts at a different place so two threads do not
-- send the same token at the same moment.
local delay_ms = 0
local tokens = nil
local next_token = 1
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_index", threads)
end

function init(args)
  delay_ms = tonumber(args[1] or "0") or 0
  math.randomseed(os.time() * 1000 + (thread_index or 0))
  if args[2] ~= nil and args[2] ~= "" then
    tokens = {}
    for line in io.lines(args[2]) do
      if line ~= "" then tokens[#tokens + 1] = line end
    end
    if #tokens == 0 then tokens = nil else
      next_token = ((thread_index or 1) - 1) * math.floor(#tokens / 4) % #tokens + 1
    end
  end
  if delay_ms > 0 then
    local base = math.floor(delay_ms)
    local frac = delay_ms - base
    delay = function()
      if math.random() < frac then return base + 1 end
      return base
    end
  end
  if tokens ~= nil then
    request = function()
      local t = tokens[next_token]
      next_token = next_token % #tokens + 1
      return wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. t })
    end
  end
end
