// The benchmark's route on Hono 4, exported as it is (the Bun, Deno and Workers habit).
import { Hono } from 'hono';

const app = new Hono();
app.get('/items/:id', (c) =>
  c.json({ id: c.req.param('id'), q: c.req.query('q') ?? null, framework: 'hono' }),
);
export default app;
