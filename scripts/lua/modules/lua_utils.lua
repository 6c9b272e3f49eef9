--
-- lua_utils: small helpers scripts expect from ntopng, as globals (require "lua_utils" for
-- its side effects, as ntopng scripts do) and as the returned table.
--
local lua_utils = {}

TRACE_ERROR = 0
TRACE_WARNING = 1
TRACE_NORMAL = 2
TRACE_INFO = 3
TRACE_DEBUG = 6
TRACE_CONSOLE = 0

local trace_names = { [0] = "ERROR", [1] = "WARNING", [2] = "NORMAL", [3] = "INFO", [6] = "DEBUG" }

-- traceError(level, where, message): a log line (print() goes to the collector's log).
function traceError(level, where, message)
   print(string.format("[%s] %s", trace_names[level] or tostring(level), tostring(message)))
end

-- Prints a value; tables recursively, one "[key] type value" line per leaf, sorted keys,
-- at most `limit` lines (default 1000).
function tprint(s, limit, indent)
   limit = limit or 1000
   indent = indent or ""
   local lines = 0
   local seen = {}

   local function key_lt(a, b)
      local ta, tb = type(a), type(b)
      if ta ~= tb then return ta < tb end
      if ta == "number" or ta == "string" then return a < b end
      return tostring(a) < tostring(b)
   end

   local function emit(line)
      lines = lines + 1
      if lines <= limit then
         print(line)
      elseif lines == limit + 1 then
         print(indent .. "ERROR: Item limit reached.")
      end
   end

   local function walk(v, prefix)
      if lines > limit then return end
      if type(v) ~= "table" then
         emit(prefix .. " " .. type(v) .. " " .. tostring(v))
         return
      end
      if seen[v] then
         emit(prefix .. " table (cycle)")
         return
      end
      seen[v] = true
      emit(prefix .. " table")
      local keys = {}
      for k in pairs(v) do keys[#keys + 1] = k end
      table.sort(keys, key_lt)
      for _, k in ipairs(keys) do
         walk(v[k], prefix .. "\t[" .. tostring(k) .. "]")
         if lines > limit then return end
      end
   end

   walk(s, indent)
end

function isEmptyString(s)
   return s == nil or s == ""
end

function starts(s, prefix)
   return type(s) == "string" and s:sub(1, #prefix) == prefix
end

function ends(s, suffix)
   return type(s) == "string" and (suffix == "" or s:sub(-#suffix) == suffix)
end

-- split("a,b,,c", ",") -> {"a", "b", "", "c"} (the separator is plain text)
function split(s, sep)
   local out = {}
   if s == nil then return out end
   sep = sep or ","
   local start = 1
   while true do
      local i, j = string.find(s, sep, start, true)
      if not i or sep == "" then
         out[#out + 1] = s:sub(start)
         break
      end
      out[#out + 1] = s:sub(start, i - 1)
      start = j + 1
   end
   return out
end

function firstToUpper(s)
   return (tostring(s):gsub("^%l", string.upper))
end

function round(n, digits)
   local m = 10 ^ (digits or 0)
   return math.floor(n * m + 0.5) / m
end

local function scaled(value, units, base, digits)
   value = tonumber(value) or 0
   local i = 1
   while math.abs(value) >= base and i < #units do
      value = value / base
      i = i + 1
   end
   if i == 1 then
      return string.format("%d %s", math.floor(value), units[i])
   end
   return string.format("%." .. (digits or 2) .. "f %s", value, units[i])
end

-- 1536 -> "1.50 KB"
function bytesToSize(bytes)
   return scaled(bytes, { "Bytes", "KB", "MB", "GB", "TB", "PB" }, 1024)
end

-- 1500000 -> "1.50 Mbit/s"
function bitsToSize(bits)
   return scaled(bits, { "bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s" }, 1000)
end

-- 1234 -> "1,234 Pkts"
function formatValue(n)
   local s = tostring(math.floor(tonumber(n) or 0))
   local sign, digits = s:match("^(-?)(%d+)$")
   if not digits then return s end
   digits = digits:reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", "")
   return sign .. digits
end

function formatPackets(n)
   return formatValue(n) .. " Pkts"
end

function formatFlows(n)
   return formatValue(n) .. " Flows"
end

-- 3725 -> "1 h, 2 min, 5 sec"
function secondsToTime(secs)
   secs = math.floor(tonumber(secs) or 0)
   if secs < 1 then return "< 1 sec" end
   local parts = {}
   local d = secs // 86400; secs = secs % 86400
   local h = secs // 3600; secs = secs % 3600
   local m = secs // 60; secs = secs % 60
   if d > 0 then parts[#parts + 1] = d .. (d == 1 and " day" or " days") end
   if h > 0 then parts[#parts + 1] = h .. " h" end
   if m > 0 then parts[#parts + 1] = m .. " min" end
   if secs > 0 then parts[#parts + 1] = secs .. " sec" end
   return table.concat(parts, ", ")
end

-- Number of entries of any table (not only its sequence).
function table.len(t)
   local n = 0
   if t == nil then return 0 end
   for _ in pairs(t) do n = n + 1 end
   return n
end

function table.empty(t)
   return t == nil or next(t) == nil
end

-- A deep copy (cycles kept).
function table.clone(t, seen)
   if type(t) ~= "table" then return t end
   seen = seen or {}
   if seen[t] then return seen[t] end
   local c = {}
   seen[t] = c
   for k, v in pairs(t) do c[table.clone(k, seen)] = table.clone(v, seen) end
   return c
end

function table.merge(a, b)
   local r = {}
   for k, v in pairs(a or {}) do r[k] = v end
   for k, v in pairs(b or {}) do r[k] = v end
   return r
end

-- pairs() in key order (optionally with a comparison function).
function pairsByKeys(t, f)
   local keys = {}
   for k in pairs(t) do keys[#keys + 1] = k end
   table.sort(keys, f)
   local i = 0
   return function()
      i = i + 1
      local k = keys[i]
      if k ~= nil then return k, t[k] end
   end
end

lua_utils.tprint = tprint
lua_utils.traceError = traceError
lua_utils.isEmptyString = isEmptyString
lua_utils.starts = starts
lua_utils.ends = ends
lua_utils.split = split
lua_utils.firstToUpper = firstToUpper
lua_utils.round = round
lua_utils.bytesToSize = bytesToSize
lua_utils.bitsToSize = bitsToSize
lua_utils.formatValue = formatValue
lua_utils.formatPackets = formatPackets
lua_utils.formatFlows = formatFlows
lua_utils.secondsToTime = secondsToTime
lua_utils.pairsByKeys = pairsByKeys

return lua_utils
