--
-- ip_set: address lists with CIDR networks, IPv4 and IPv6, for user scripts.
--
--   local ip_set = require "ip_set"
--   local set = ip_set.new({"192.0.2.0/24", "2001:db8::/32", "203.0.113.7"})
--   ip_set.match(set, "192.0.2.9")   --> true
--   ip_set.of_config(config)         --> the set of config.items (cached per config table)
--
local ip_set = {}

local MAPPED4 = string.rep("\0", 10) .. "\255\255" -- ::ffff:a.b.c.d

local function parse_ipv4(s)
   local a, b, c, d = s:match("^(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)$")
   if not a then return nil end
   a, b, c, d = tonumber(a), tonumber(b), tonumber(c), tonumber(d)
   if a > 255 or b > 255 or c > 255 or d > 255 then return nil end
   return string.char(a, b, c, d)
end

local function parse_groups(part, out)
   if part == "" then return true end
   for g in (part .. ":"):gmatch("([^:]*):") do
      if #g < 1 or #g > 4 then return false end
      out[#out + 1] = tonumber(g, 16)
   end
   return true
end

local function parse_ipv6(s)
   if #s < 2 or #s > 45 or not s:find(":", 1, true) then return nil end
   local v4
   local last = s:match("[^:]*$")
   if last:find(".", 1, true) then -- a dotted IPv4 tail (::ffff:1.2.3.4)
      v4 = parse_ipv4(last)
      if not v4 then return nil end
      s = s:sub(1, #s - #last) .. "0:0"
   end
   if s:find("[^%x:]") then return nil end
   local left, right = {}, {}
   local dbl = s:find("::", 1, true)
   if dbl then
      if s:find("::", dbl + 1, true) then return nil end
      if not parse_groups(s:sub(1, dbl - 1), left) or not parse_groups(s:sub(dbl + 2), right)
         or #left + #right > 7 then
         return nil
      end
   elseif not parse_groups(s, left) or #left ~= 8 then
      return nil
   end
   local bytes = {}
   local function put(w)
      bytes[#bytes + 1] = w >> 8
      bytes[#bytes + 1] = w & 0xff
   end
   for _, w in ipairs(left) do put(w) end
   for _ = 1, 8 - #left - #right do put(0) end
   for _, w in ipairs(right) do put(w) end
   local r = string.char(table.unpack(bytes))
   if v4 then r = r:sub(1, 12) .. v4 end
   return r
end

-- Address text -> 4 or 16 bytes (an IPv4-mapped IPv6 address gives its 4 IPv4 bytes); nil
-- when it is not an address.
function ip_set.parse(s)
   if type(s) ~= "string" then return nil end
   local r = parse_ipv4(s) or parse_ipv6(s)
   if r and #r == 16 and r:sub(1, 12) == MAPPED4 then r = r:sub(13) end
   return r
end

-- The first `bits` bits of `bytes` (the last byte masked).
local function prefix(bytes, bits)
   local full, rem = bits // 8, bits % 8
   local p = bytes:sub(1, full)
   if rem > 0 then
      p = p .. string.char(bytes:byte(full + 1) & ((0xff << (8 - rem)) & 0xff))
   end
   return p
end

-- A set built from "addr" / "addr/len" entries: an array of strings, or one string of
-- entries separated by commas or spaces. Returns the set and the array of rejected entries.
function ip_set.new(items)
   local set = { n = 0, [4] = { lens = {}, nets = {} }, [16] = { lens = {}, nets = {} } }
   local bad = {}
   local list = items
   if type(items) == "string" then
      list = {}
      for e in items:gmatch("[^,%s]+") do list[#list + 1] = e end
   elseif type(items) ~= "table" then
      list = {}
   end
   for _, e in ipairs(list) do
      local ok = false
      if type(e) == "string" then
         local a, len = e:match("^%s*([^/%s]+)/(%d+)%s*$")
         if not a then a = e:match("^%s*([^/%s]+)%s*$") end
         local bytes = a and ip_set.parse(a)
         if bytes then
            local max = #bytes * 8
            local bits = len and tonumber(len) or max
            -- an IPv4-mapped IPv6 network (::ffff:0:0/104) becomes the IPv4 one (/8)
            if len and #bytes == 4 and not parse_ipv4(a) then bits = bits - 96 end
            if bits >= 0 and bits <= max then
               local fam = set[#bytes]
               local t = fam.nets[bits]
               if not t then
                  t = {}
                  fam.nets[bits] = t
                  fam.lens[#fam.lens + 1] = bits
               end
               t[prefix(bytes, bits)] = e:match("^%s*(.-)%s*$")
               set.n = set.n + 1
               ok = true
            end
         end
      end
      if not ok then bad[#bad + 1] = tostring(e) end
   end
   for _, fam in pairs({ set[4], set[16] }) do
      table.sort(fam.lens, function(x, y) return x > y end) -- most specific first
   end
   return set, bad
end

-- The set entry (text as configured) that contains address text `ip`, or nil.
function ip_set.match(set, ip)
   if set.n == 0 then return nil end
   local bytes = ip_set.parse(ip)
   local fam = bytes and set[#bytes]
   if not fam then return nil end
   for _, bits in ipairs(fam.lens) do
      local e = fam.nets[bits][prefix(bytes, bits)]
      if e then return e end
   end
   return nil
end

-- The set of config.items, built once per configuration table (a reload gives a new one).
local compiled = setmetatable({}, { __mode = "k" })
function ip_set.of_config(config)
   local set = compiled[config]
   if not set then
      local bad
      set, bad = ip_set.new(config and config.items)
      if #bad > 0 then
         print("ignoring invalid address entries: " .. table.concat(bad, ", "))
      end
      compiled[config] = set
   end
   return set
end

return ip_set
