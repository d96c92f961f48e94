-- The console home lists clients by name, a page at a time: with 10,000
-- clients every page load sorted them all. This index serves the order.
CREATE INDEX tenants_name_order_idx ON control.tenants (lower(name), slug)
    WHERE status NOT IN ('deleting', 'provisioning');
