-- wrk script: PATCH without a body (PATCH .../complete toggles).
wrk.method = "PATCH"
