-- wrk script: create tasks with a JSON body.
wrk.method = "POST"
wrk.body = '{"title": "Benchmark task", "priority": "high", "tags": ["bench"]}'
wrk.headers["Content-Type"] = "application/json"
