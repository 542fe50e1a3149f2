"""Messages of a case: agents' notes and responses, and the customer's own messages."""
