// Tests for src/shared/constants.ts: which statuses have no body, and the fixed error page.
import { describe, expect, test } from 'vitest';
import {
  INTERNAL_ERROR_BODY,
  INTERNAL_ERROR_STATUS,
  isBodilessStatus,
  TSGI_VERSION,
} from '../../../src/shared/constants.js';

describe('isBodilessStatus', () => {
  test.each([
    [100, true],
    [101, true],
    [199, true],
    [200, false],
    [204, true],
    [205, false],
    [304, true],
    [404, false],
    [500, false],
  ])('status %i has no body: %s', (code, expected) => {
    expect(isBodilessStatus(code)).toBe(expected);
  });
});

describe('the fixed values', () => {
  test('tsgi.version is [1, 0] and the error page says nothing about the error', () => {
    expect(TSGI_VERSION).toEqual([1, 0]);
    expect(INTERNAL_ERROR_STATUS).toBe('500 Internal Server Error');
    expect(INTERNAL_ERROR_BODY).toBe('Internal Server Error\n');
  });
});
