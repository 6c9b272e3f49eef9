--
-- alert_severities: alert severity levels, numbered as ntopng numbers them (collector/alert.h).
-- `alert_severities.warning` is the number 4; alerts_api accepts a number or the name.
--
local alert_severities = {
   debug = 1,
   info = 2,
   notice = 3,
   warning = 4,
   error = 5,
   critical = 6,
   emergency = 7,
}

return alert_severities
