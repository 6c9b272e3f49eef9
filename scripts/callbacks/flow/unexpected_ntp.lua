--
-- unexpected_ntp: NTP traffic with a server that is not an allowed NTP server (ntopng's
-- "Unexpected NTP Server"): hosts that take their time from servers other than the approved
-- ones. NTP by nDPI, or UDP port 123 when nDPI does not know the flow.
--
-- Configure the allowed servers (addresses or CIDRs, IPv4 and IPv6) in
-- <data-dir>/scripts_config.json:
--   {"flow": {"unexpected_ntp": {"enabled": true,
--                      "value": {"items": ["10.0.0.123", "192.0.2.0/24"]}}}}
-- Disabled by default; while the list is empty the script raises nothing.
--
local user_scripts = require "user_scripts"

local SPEC = {
   status = "unexpected_ntp",
   what = "NTP",
   l7 = { NTP = true }, -- nDPI protocol names (master or application)
   wrappers = {}, -- L7 protocols that may carry it on its ports
   ports = { [123] = true },
   flow_score = 50, cli_score = 50, srv_score = 10,
}

local script = {
   category = user_scripts.script_categories.security,
   default_enabled = false,
   default_value = { items = {} },
   l4_proto = "udp",
   gui = {
      i18n_title = "Unexpected NTP Server",
      i18n_description = "NTP traffic with a server that is not an allowed NTP server",
      input_builder = user_scripts.items_list_input_builder,
      item_list_type = "ip_address",
      input_title = "Allowed NTP servers",
      input_description = "Addresses or networks (CIDR) of the allowed NTP servers",
   },
   hooks = {},
}

return require("unexpected_server").make(SPEC, script)
