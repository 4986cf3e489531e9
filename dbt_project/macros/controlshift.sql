{#-
    The contact columns every ControlShift person table (signatures, attendees, users) carries,
    renamed to the person-record names: `<table>:<id>` as person_id, the form's names, email,
    phone and postcode, the member it belongs to and the organisation opt-in.
-#}
{% macro controlshift_contact_columns(table) -%}
        '{{ table }}:' || cast(id as varchar) as person_id,
        cast(member_id as varchar) as member_id,
        first_name as given_name,
        last_name as family_name,
        email,
        phone_number as phone,
        postcode as postal_code,
        cast(join_organisation as boolean) as join_organisation
{%- endmacro %}
