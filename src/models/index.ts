import type { Connection } from 'mongoose';
import { calendarModel, type CalendarModel } from './calendar.js';
import { eventModel, type EventModel } from './event.js';

export interface Models {
  Calendar: CalendarModel;
  Event: EventModel;
}

/** Binds every model to one connection. Feature modules add their own models next to these. */
export function registerModels(conn: Connection): Models {
  return { Calendar: calendarModel(conn), Event: eventModel(conn) };
}
