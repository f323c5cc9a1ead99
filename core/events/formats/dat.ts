// PLACEHOLDER: being implemented. Replace this whole file.
import type { EventFormat } from '../reader.ts';
import { EventFormatError } from '../errors.ts';

export const datFormat: EventFormat = {
  id: 'dat',
  name: 'dat',
  extensions: [],
  probe: () => 0,
  open: async () => {
    throw new EventFormatError('dat', 0, 'not implemented yet');
  },
};
