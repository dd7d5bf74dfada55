// Converting the plain admin values (admin_types.h) to and from
// schema/admin.capnp: the server writes errors and statuses, the client
// reads them, and both directions sit here so that they list the same
// fields.
#pragma once

#include "schema/admin.capnp.h"
#include "schema/admin_types.h"

namespace conclave::admin {

schema::admin::ErrorCode to_wire(ErrorCode code);
ErrorCode from_wire(schema::admin::ErrorCode code);

void to_wire(const Status& status, schema::admin::Status::Builder out);
Status from_wire(schema::admin::Status::Reader status);

void to_wire(const Committed& committed, schema::admin::Committed::Builder out);
Committed from_wire(schema::admin::Committed::Reader committed);

}  // namespace conclave::admin
