--
-- user_scripts: what user scripts share: the script types and their hooks, field units for
-- GUI builders, and the configuration helpers (default_value parsing, threshold checks).
--
--   local user_scripts = require "user_scripts"
--   function script.hooks.min(params)
--      local conf = params.user_script_config
--      if user_scripts.threshold_cross(conf, value) then ... end
--   end
--
local user_scripts = {}

-- Hooks of every script subdir (plus "all", which runs for each of them).
user_scripts.hooks = {
   flow = { "protocolDetected", "statusChanged", "periodicUpdate", "flowEnd" },
   interface = { "min", "5mins", "hour", "day" },
   network = { "min", "5mins", "hour", "day" },
   system = { "min", "5mins", "hour", "day" },
   snmp = { "min", "5mins", "hour", "day" },
   syslog = { "handleEvent" },
}

-- Script types as ntopng names them, with their subdirs.
user_scripts.script_types = {
   flow = { parent_dir = "flow", subdirs = { "flow" } },
   traffic_element = { parent_dir = "interface", subdirs = { "interface", "network" } },
   system = { parent_dir = "system", subdirs = { "system" } },
   snmp_device = { parent_dir = "snmp", subdirs = { "snmp" } },
   syslog = { parent_dir = "syslog", subdirs = { "syslog" } },
}

user_scripts.script_categories = {
   other = { id = 0, icon = "fas fa-scroll", i18n_title = "user_scripts.category_other" },
   security = { id = 1, icon = "fas fa-shield-alt", i18n_title = "user_scripts.category_security" },
   internals = { id = 2, icon = "fas fa-wrench", i18n_title = "user_scripts.category_internals" },
   network = { id = 3, icon = "fas fa-network-wired", i18n_title = "user_scripts.category_network" },
   system = { id = 4, icon = "fas fa-server", i18n_title = "user_scripts.category_system" },
}

-- Units shown next to threshold fields.
user_scripts.field_units = {
   seconds = "field_units.seconds",
   bytes = "field_units.bytes",
   flows = "field_units.flows",
   packets = "field_units.packets",
   mbits = "field_units.mbits",
   hosts = "field_units.hosts",
   syn_sec = "field_units.syn_sec",
   flow_sec = "field_units.flow_sec",
   per_sec = "field_units.per_sec",
   percentage = "field_units.percentage",
   syn_min = "field_units.syn_min",
   contacts = "field_units.contacts",
}

-- GUI input builders (names only: zflow has no GUI yet).
user_scripts.checkbox_input_builder = "checkbox"
user_scripts.flow_checkbox_input_builder = "checkbox"
user_scripts.threshold_cross_input_builder = "threshold_cross"
user_scripts.items_list_input_builder = "items_list"

-- Comparison operators of default_value / thresholds.
user_scripts.operators = {
   gt = function(v, t) return v > t end,
   lt = function(v, t) return v < t end,
   ge = function(v, t) return v >= t end,
   le = function(v, t) return v <= t end,
   eq = function(v, t) return v == t end,
   ne = function(v, t) return v ~= t end,
}

-- Parses a default_value ("key;op;value" or a table) into a config table as the engine does:
-- { key = ..., operator = ..., threshold = <number> } or a copy of the table.
-- Returns the table, or nil and an error message.
function user_scripts.parseDefaultValue(v)
   local conf = {}
   if type(v) == "string" then
      local key, op, value = v:match("^([^;]+);([^;]*);([^;]*)$")
      if not key then
         return nil, "expected \"<key>;<operator>;<value>\""
      end
      conf.key, conf.operator, conf.threshold = key, op, value
   elseif type(v) == "table" then
      for k, x in pairs(v) do conf[k] = x end
   elseif v ~= nil then
      return nil, "must be a string or a table"
   end
   if conf.operator ~= nil then
      if not user_scripts.operators[conf.operator] then
         return nil, "unknown operator '" .. tostring(conf.operator) .. "'"
      end
      local t = tonumber(conf.threshold)
      if t == nil then
         return nil, "'threshold' must be a number"
      end
      conf.threshold = math.tointeger(t) or t
   end
   return conf
end

-- The configuration a script gets when nothing overrides it: its parsed default_value plus
-- enabled = default_enabled (true unless false). Accepts the script table or a
-- default_value.
function user_scripts.getDefaultConfig(script)
   local dv, enabled = script, true
   if type(script) == "table" and (script.hooks ~= nil or script.default_enabled ~= nil
                                   or script.default_value ~= nil) then
      dv = script.default_value
      enabled = script.default_enabled ~= false
   end
   local conf, err = user_scripts.parseDefaultValue(dv)
   if not conf then
      error("bad default_value: " .. err, 2)
   end
   conf.enabled = enabled
   return conf
end

-- True when `value` crosses the configured threshold (config.operator, default "gt";
-- config.threshold, or `threshold` when given).
function user_scripts.threshold_cross(config, value, threshold)
   if value == nil then return false end
   local op = user_scripts.operators[(config and config.operator) or "gt"]
   local t = tonumber(threshold or (config and config.threshold))
   if not op or t == nil then return false end
   return op(tonumber(value) or 0, t)
end

-- Hooks of a subdir (a copy).
function user_scripts.getSubdirHooks(subdir)
   local h = user_scripts.hooks[subdir]
   if not h then return nil end
   local r = {}
   for i, n in ipairs(h) do r[i] = n end
   return r
end

return user_scripts
