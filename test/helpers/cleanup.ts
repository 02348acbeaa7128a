// A vitest setup file (vitest.config.ts setupFiles): runs in every test file, so that what
// tempDir() made is gone when the file ends, whether its tests passed or not.
import { afterAll } from 'vitest';

import { removeTempDirs } from './tempDir.js';

afterAll(() => removeTempDirs());
