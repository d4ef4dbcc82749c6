// Better Auth as a frontend runs it: the JWT plugin, its own PostgreSQL
// database (DATABASE_URL), served on 127.0.0.1:PORT. It signs USER_EMAIL up,
// prints one JSON line ({user, token, shared}: the user, a JWT from its
// /api/auth/token endpoint, and an HS256 token a frontend would sign with
// BETTER_AUTH_SECRET), then serves /api/auth/jwks until it is stopped.
import http from "node:http";

import { betterAuth } from "better-auth";
import { getMigrations } from "better-auth/db/migration";
import { toNodeHandler } from "better-auth/node";
import { jwt } from "better-auth/plugins";
import { SignJWT } from "jose";
import pg from "pg";

const port = Number(process.env.PORT);
const baseURL = `http://127.0.0.1:${port}`;
const options = {
  baseURL,
  secret: process.env.BETTER_AUTH_SECRET,
  database: new pg.Pool({ connectionString: process.env.DATABASE_URL }),
  emailAndPassword: { enabled: true },
  telemetry: { enabled: false },
  plugins: [jwt()],
};

const { runMigrations } = await getMigrations(options);
await runMigrations();
const auth = betterAuth(options);
const server = http.createServer(toNodeHandler(auth));
await new Promise((resolve) => server.listen(port, "127.0.0.1", resolve));

const signUp = await fetch(`${baseURL}/api/auth/sign-up/email`, {
  method: "POST",
  headers: { "content-type": "application/json", origin: baseURL },
  body: JSON.stringify({ email: process.env.USER_EMAIL, password: "Better-pass-123", name: "Bea Better" }),
});
if (!signUp.ok) throw new Error(`sign-up: ${signUp.status} ${await signUp.text()}`);
const cookie = signUp.headers.getSetCookie().map((line) => line.split(";")[0]).join("; ");
const { user } = await signUp.json();

const tokenAnswer = await fetch(`${baseURL}/api/auth/token`, { headers: { cookie, origin: baseURL } });
if (!tokenAnswer.ok) throw new Error(`token: ${tokenAnswer.status} ${await tokenAnswer.text()}`);
const { token } = await tokenAnswer.json();

const shared = await new SignJWT({ email: user.email, name: user.name })
  .setProtectedHeader({ alg: "HS256" })
  .setSubject(user.id)
  .setIssuer(baseURL)
  .setIssuedAt()
  .setExpirationTime("15m")
  .sign(new TextEncoder().encode(process.env.BETTER_AUTH_SECRET));

console.log(JSON.stringify({ user, token, shared }));
