-- DEA 21 CFR 1311.170 print path (issue 8): after a failed electronic transmission the prescriber
-- prints a copy marked as such; each printed copy is a `printed` event on the prescription's
-- delivery timeline (its audit record is written in the same transaction).
ALTER TABLE delivery_events DROP CONSTRAINT delivery_events_event_check;
ALTER TABLE delivery_events ADD CONSTRAINT delivery_events_event_check CHECK (event IN ('queued',
  'sent', 'acknowledged', 'accepted', 'dispensed', 'partially_dispensed', 'not_dispensed', 'error',
  'cancel_requested', 'cancel_confirmed', 'cancel_denied', 'held', 'failed', 'renewal_requested',
  'change_requested', 'renewal_approved', 'renewal_denied', 'change_approved', 'change_denied',
  'printed'));
