import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // e2e files start real web servers on free ports; files run in parallel, tests within a file in order.
    fileParallelism: true,
  },
});
