// The benchmark's route on Fastify 5, exported as it is.
import fastify from 'fastify';

const app = fastify();
app.get('/items/:id', async (request) => ({
  id: request.params.id,
  q: request.query.q ?? null,
  framework: 'fastify',
}));
export default app;
