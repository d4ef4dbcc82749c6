-- wrk script: one message to the assistant (a new conversation each time).
wrk.method = "POST"
wrk.body = '{"message": "What\'s pending?"}'
wrk.headers["Content-Type"] = "application/json"
