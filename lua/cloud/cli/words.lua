--- The words of each command: cloud-stop and cloud-start share every line of code, and
-- differ in these.
-- @module cloud.cli.words
return {
  stop = { action = "stop", program = "cloud-stop", verb = "stop", Verb = "Stop", done = "stopped",
           doing = "stopping", wanted = "SHUTOFF" },
  start = { action = "start", program = "cloud-start", verb = "start", Verb = "Start", done = "started",
            doing = "starting", wanted = "ACTIVE" },
  -- cloud-schedule both stops and starts; its help is its own (cloud.cli.schedule_help).
  schedule = { action = "schedule", program = "cloud-schedule", verb = "stop and start", Verb = "Stop and start",
               done = "acted on", doing = "acting on", summary = "stop and start Huawei Cloud ECS and BMS servers "
               .. "on schedules", positional = "plan run" },
}
