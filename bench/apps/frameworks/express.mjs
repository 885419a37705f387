// The benchmark's route on Express 5, exported as it is: `tsgi fastcgi express.mjs` detects it (issue 13).
import express from 'express';

const app = express();
app.get('/items/:id', (req, res) => {
  res.json({ id: req.params.id, q: req.query.q ?? null, framework: 'express' });
});
export default app;
