// The benchmark's route on Koa 3 (no router package: a path match in one middleware), exported as it is.
import Koa from 'koa';

const ITEM = /^\/items\/([^/]+)$/;
const app = new Koa();
app.use((ctx) => {
  const match = ITEM.exec(ctx.path);
  if (match === null) return;
  ctx.body = { id: decodeURIComponent(match[1]), q: ctx.query.q ?? null, framework: 'koa' };
});
export default app;
