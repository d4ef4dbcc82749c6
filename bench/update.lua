-- wrk script: PATCH one field of a task (Django's path: the services' update).
wrk.method = "PATCH"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"priority": "high"}'
